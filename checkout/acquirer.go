package checkout

import (
	"context"
	"errors"
)

// ErrUnknownCharge is returned by Lookup for a charge id the acquirer never
// saw: nothing was charged under it.
var ErrUnknownCharge = errors.New("acquirer never saw this charge")

// Acquirer is the card network as Herald sees it: it approves or declines
// charges and may ask for 3-D Secure. Implementations must treat
// ChargeRequest.ChargeID as an idempotency key: charging a known id again
// moves no money and answers what the first call answered. Herald records
// every charge (status processing) before it calls Charge or
// CompleteAuthentication, and reconciles with Lookup and Void when the
// answer was never recorded.
type Acquirer interface {
	// Charge asks for the money. When the issuer (or req.RequireAuthentication)
	// wants 3-D Secure it charges nothing yet and returns
	// OutcomeRequiresAuthentication with an AuthenticationRef to pass to
	// CompleteAuthentication. An error means the network could not be asked;
	// nothing was charged.
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
	// CompleteAuthentication finishes a charge after the customer's 3-D
	// Secure challenge. Errors: ErrInvalidAuthenticationRef for a reference
	// the acquirer did not issue for chargeID.
	CompleteAuthentication(ctx context.Context, chargeID, ref string, authenticated bool) (ChargeResult, error)
	// Lookup returns the acquirer's current answer for chargeID, including
	// OutcomeVoided for a voided charge. Errors: ErrUnknownCharge when the
	// charge never reached the acquirer.
	Lookup(ctx context.Context, chargeID string) (ChargeResult, error)
	// Void releases an approved charge's money, and abandons one waiting for
	// 3-D Secure. Voiding a declined or already voided charge does nothing.
	// Voiding a charge the acquirer never saw records it voided, so that a
	// request for it still on its way is refused (answered OutcomeVoided)
	// instead of charging.
	Void(ctx context.Context, chargeID string) error
}

// ChargeRequest is one charge attempt.
type ChargeRequest struct {
	ChargeID              string
	Card                  Card
	Amount                int64
	Currency              string
	RequireAuthentication bool
}

// Outcome is the acquirer's answer.
type Outcome string

// Acquirer outcomes.
const (
	OutcomeSucceeded              Outcome = "succeeded"
	OutcomeDeclined               Outcome = "declined"
	OutcomeRequiresAuthentication Outcome = "requires_authentication"
	// OutcomeVoided is only ever answered for a charge that was voided:
	// approved once, its money released since.
	OutcomeVoided Outcome = "voided"
)

// ChargeResult is what the acquirer said about a charge.
type ChargeResult struct {
	Outcome Outcome
	// DeclineCode is set when Outcome is OutcomeDeclined.
	DeclineCode string
	// AuthenticationRef is set when Outcome is OutcomeRequiresAuthentication.
	AuthenticationRef string
}

// Decline codes, as in the charge object's failure_code.
const (
	DeclineCardDeclined         = "card_declined"
	DeclineInsufficientFunds    = "insufficient_funds"
	DeclineExpiredCard          = "expired_card"
	DeclineIncorrectCVC         = "incorrect_cvc"
	DeclineAuthenticationFailed = "authentication_failed"
	DeclineFraudulent           = "fraudulent"
	DeclineTestModeLiveCard     = "test_mode_live_card"
	DeclineProcessingError      = "processing_error"
)

// DeclineMessage is what the customer reads in the payment page's alert.
// Fraud blocks read like a plain decline: telling a fraudster which rule
// fired helps them. (In test mode the page explains blocks instead: see
// BlockExplanation.)
func DeclineMessage(code string) string {
	switch code {
	case DeclineInsufficientFunds:
		return "Your card has insufficient funds. Try another card."
	case DeclineExpiredCard:
		return "Your card has expired. Try another card."
	case DeclineIncorrectCVC:
		return "Your card's security code is incorrect."
	case DeclineAuthenticationFailed:
		return "We were unable to authenticate your payment method. Choose another payment method and try again."
	case DeclineTestModeLiveCard:
		return "Your card was declined. This checkout is in test mode: use a test card such as 4242 4242 4242 4242."
	case DeclineProcessingError:
		return "An error occurred while processing your card. Try again in a little while."
	}
	return "Your card was declined. Try another card."
}
