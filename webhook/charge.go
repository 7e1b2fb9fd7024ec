package webhook

import (
	"encoding/json"
	"time"
)

// Charge statuses, as in Charge.Status. Events carry only succeeded and
// failed charges; the others show while a payment is under way.
const (
	ChargeStatusProcessing             = "processing"
	ChargeStatusRequiresAuthentication = "requires_authentication"
	ChargeStatusSucceeded              = "succeeded"
	ChargeStatusFailed                 = "failed"
	ChargeStatusCanceled               = "canceled"
)

// 3-D Secure outcomes, as in Payment.ThreeDSecure and ChargeCard.ThreeDSecure.
const (
	ThreeDSecureNotRequired   = "not_required"
	ThreeDSecureRequired      = "required"
	ThreeDSecureAuthenticated = "authenticated"
	ThreeDSecureFailed        = "failed"
)

// Charge is one attempt to collect a session's money with one card, as
// charge.succeeded and charge.failed events carry it. A session may have
// several failed charges before the one that succeeds.
type Charge struct {
	// ID is the charge's id, ch_…; Payment.ID of the session it paid.
	ID string `json:"id"`
	// Object is always "charge".
	Object string `json:"object"`
	// Amount is in the currency's minor unit.
	Amount int64 `json:"amount"`
	// Currency is the lowercase ISO 4217 code.
	Currency string `json:"currency"`
	// Status is one of the ChargeStatus constants.
	Status string `json:"status"`
	// Paid is set when the money was collected.
	Paid bool `json:"paid"`
	// FailureCode says why a charge failed, such as "card_declined",
	// "insufficient_funds" or "fraudulent"; "" when it did not.
	FailureCode string `json:"failure_code"`
	// FailureMessage is FailureCode for humans; "" when it did not fail.
	FailureMessage string `json:"failure_message"`
	// CheckoutSessionID is the session the charge was for, cs_….
	CheckoutSessionID string `json:"checkout_session"`
	// PaymentMethodID is the tokenized card, tok_….
	PaymentMethodID string `json:"payment_method"`
	// PaymentMethodDetails describes the card (never its number).
	PaymentMethodDetails PaymentMethodDetails `json:"payment_method_details"`
	// BillingDetails are what the customer typed on the payment page.
	BillingDetails BillingDetails `json:"billing_details"`
	// Outcome is the fraud rules' verdict.
	Outcome ChargeOutcome `json:"outcome"`
	// Created is when the charge was attempted.
	Created time.Time `json:"created"`
}

type plainCharge Charge

type chargeWire struct {
	*plainCharge
	FailureCode    *string `json:"failure_code"`
	FailureMessage *string `json:"failure_message"`
	Created        *int64  `json:"created"`
}

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (c *Charge) UnmarshalJSON(data []byte) error {
	wire := chargeWire{plainCharge: (*plainCharge)(c)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	c.FailureCode, c.FailureMessage = fromNullString(wire.FailureCode), fromNullString(wire.FailureMessage)
	c.Created = fromUnix(wire.Created)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero values
// of nullable fields as null.
func (c Charge) MarshalJSON() ([]byte, error) {
	return json.Marshal(chargeWire{
		plainCharge: (*plainCharge)(&c),
		FailureCode: toNullString(c.FailureCode), FailureMessage: toNullString(c.FailureMessage),
		Created: toUnix(c.Created),
	})
}

// PaymentMethodDetails describes how a charge was paid.
type PaymentMethodDetails struct {
	Card ChargeCard `json:"card"`
}

// ChargeCard is what Herald keeps of a card: never its number or CVC.
type ChargeCard struct {
	// Brand is the card brand, such as "visa" or "mastercard".
	Brand string `json:"brand"`
	// Last4 is the card number's last four digits.
	Last4    string `json:"last4"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	// ThreeDSecure is one of the ThreeDSecure constants.
	ThreeDSecure string `json:"three_d_secure"`
}

// BillingDetails are the customer's name and email as entered; "" when
// not given.
type BillingDetails struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// UnmarshalJSON decodes the API object, nulls as "".
func (b *BillingDetails) UnmarshalJSON(data []byte) error {
	var wire struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	b.Name, b.Email = fromNullString(wire.Name), fromNullString(wire.Email)
	return nil
}

// MarshalJSON encodes the API object, "" as null.
func (b BillingDetails) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	}{toNullString(b.Name), toNullString(b.Email)})
}

// Risk decisions, as in ChargeOutcome.Decision.
const (
	RiskDecisionAllow     = "allow"
	RiskDecisionChallenge = "challenge"
	RiskDecisionBlock     = "block"
)

// ChargeOutcome is the fraud rules' verdict on a charge.
type ChargeOutcome struct {
	// RiskLevel is "normal", "elevated" or "highest".
	RiskLevel string `json:"risk_level"`
	// Decision is one of the RiskDecision constants.
	Decision string `json:"decision"`
	// Reasons name the rules that fired; empty when none did.
	Reasons []string `json:"reasons"`
}
