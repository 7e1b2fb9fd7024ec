package checkout

import (
	"encoding/json"
	"time"
)

// ChargeStatus is where a charge attempt is.
type ChargeStatus string

// Charge statuses.
const (
	// ChargeProcessing is a charge handed to the acquirer whose answer is not
	// recorded yet. It is committed before the acquirer is called, so a
	// charge can never be made without Herald knowing; one found processing
	// when nobody is working on it is reconciled with the acquirer.
	ChargeProcessing             ChargeStatus = "processing"
	ChargeRequiresAuthentication ChargeStatus = "requires_authentication"
	ChargeSucceeded              ChargeStatus = "succeeded"
	ChargeFailed                 ChargeStatus = "failed"
	// ChargeCanceled is a 3-D Secure attempt abandoned for a new one, or left
	// pending when its session expired, or an approval voided because its
	// session closed before the approval could be recorded. No money is kept.
	ChargeCanceled ChargeStatus = "canceled"
)

// ChargeStatuses lists every charge status.
var ChargeStatuses = []ChargeStatus{ChargeProcessing, ChargeRequiresAuthentication, ChargeSucceeded, ChargeFailed, ChargeCanceled}

// 3-D Secure states of a charge.
const (
	ThreeDSNotRequired   = "not_required"
	ThreeDSRequired      = "required"
	ThreeDSAuthenticated = "authenticated"
	ThreeDSFailed        = "failed"
)

// Charge is one attempt to collect a session's money with one card. Its
// JSON form is the object of charge.succeeded and charge.failed events.
type Charge struct {
	ID           string
	MerchantID   string
	SessionID    string
	TokenID      string
	Amount       int64
	Currency     string
	Status       ChargeStatus
	FailureCode  string
	Brand        string
	Last4        string
	ExpMonth     int
	ExpYear      int
	Risk         Risk
	ThreeDSecure string
	BillingName  string
	BillingEmail string
	Created      time.Time
}

// Payment summarises the charge for the session object.
func (c *Charge) Payment() Payment {
	return Payment{ID: c.ID, Brand: c.Brand, Last4: c.Last4, ThreeDSecure: c.ThreeDSecure}
}

// MarshalJSON renders the API object.
func (c *Charge) MarshalJSON() ([]byte, error) {
	type card struct {
		Brand        string `json:"brand"`
		Last4        string `json:"last4"`
		ExpMonth     int    `json:"exp_month"`
		ExpYear      int    `json:"exp_year"`
		ThreeDSecure string `json:"three_d_secure"`
	}
	type outcome struct {
		RiskLevel string       `json:"risk_level"`
		Decision  RiskDecision `json:"decision"`
		Reasons   []string     `json:"reasons"`
	}
	var failureMessage *string
	if c.FailureCode != "" {
		m := DeclineMessage(c.FailureCode)
		failureMessage = &m
	}
	reasons := c.Risk.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	return json.Marshal(struct {
		ID                   string             `json:"id"`
		Object               string             `json:"object"`
		Amount               int64              `json:"amount"`
		Currency             string             `json:"currency"`
		Status               ChargeStatus       `json:"status"`
		Paid                 bool               `json:"paid"`
		FailureCode          *string            `json:"failure_code"`
		FailureMessage       *string            `json:"failure_message"`
		CheckoutSession      string             `json:"checkout_session"`
		PaymentMethod        string             `json:"payment_method"`
		PaymentMethodDetails map[string]card    `json:"payment_method_details"`
		BillingDetails       map[string]*string `json:"billing_details"`
		Outcome              outcome            `json:"outcome"`
		Created              int64              `json:"created"`
	}{
		ID: c.ID, Object: "charge", Amount: c.Amount, Currency: c.Currency, Status: c.Status,
		Paid: c.Status == ChargeSucceeded, FailureCode: nullIfEmpty(c.FailureCode), FailureMessage: failureMessage,
		CheckoutSession: c.SessionID, PaymentMethod: c.TokenID,
		PaymentMethodDetails: map[string]card{"card": {c.Brand, c.Last4, c.ExpMonth, c.ExpYear, c.ThreeDSecure}},
		BillingDetails:       map[string]*string{"name": nullIfEmpty(c.BillingName), "email": nullIfEmpty(c.BillingEmail)},
		Outcome:              outcome{RiskLevel: c.Risk.Level, Decision: c.Risk.Decision, Reasons: reasons},
		Created:              c.Created.Unix(),
	})
}
