package checkout

import (
	"context"
	"net/netip"

	"github.com/heraldpay/herald/account"
)

// SessionService is the merchant API's view of checkout sessions. Every
// method is scoped to one merchant: another merchant's session id behaves
// exactly like an unknown one.
type SessionService interface {
	// CreateSession validates params and stores a new open session.
	// Errors: *validation.Error.
	CreateSession(ctx context.Context, merchantID string, params CreateSessionParams) (*Session, error)
	// FindSession returns one session. Errors: ErrNotFound.
	FindSession(ctx context.Context, merchantID, sessionID string) (*Session, error)
	// ListSessions returns up to limit sessions, newest first, starting after
	// the session startingAfter when it is set, and whether more follow.
	// Errors: *validation.Error when startingAfter is not one of the
	// merchant's sessions.
	ListSessions(ctx context.Context, merchantID string, limit int, startingAfter string) ([]*Session, bool, error)
	// ExpireSession ends an open session unpaid and emits
	// checkout.session.expired; an expired session is returned unchanged.
	// Errors: ErrNotFound, ErrSessionComplete.
	ExpireSession(ctx context.Context, merchantID, sessionID string) (*Session, error)
}

// PaymentService is the hosted payment page's view: unauthenticated, keyed
// by the unguessable session id.
type PaymentService interface {
	// Checkout returns what the payment page shows. Errors: ErrNotFound.
	Checkout(ctx context.Context, sessionID string) (*CheckoutPage, error)
	// Pay tokenizes the card, runs the fraud rules and charges it, completing
	// the session on success. A declined card is not an error: see
	// PayResult.Outcome. Concurrent calls for one session are serialised; at
	// most one charge ever succeeds. A charge an earlier attempt left
	// unconfirmed is reconciled first, which may complete the session.
	// Errors: ErrNotFound, ErrSessionExpired, ErrSessionComplete (already
	// paid: send the customer to the success URL), ErrPaymentUnconfirmed
	// (this or an earlier attempt's outcome is not known yet; trying again is
	// safe).
	Pay(ctx context.Context, req PayRequest) (*PayResult, error)
	// Authenticate applies the customer's 3-D Secure answer to the pending
	// charge. Errors: ErrNotFound, ErrSessionExpired, ErrSessionComplete,
	// ErrNoPendingAuthentication, ErrPaymentUnconfirmed.
	Authenticate(ctx context.Context, sessionID string, authenticated bool) (*PayResult, error)
}

// FraudService lets operators see and lift velocity blocks. Like the
// merchant API's services it is scoped to one merchant: another merchant's
// charge id behaves exactly like an unknown one. The card and the client
// IP are counted across merchants, so lifting their block lifts it for
// every merchant.
type FraudService interface {
	// Velocity returns where the charge's session, card and client IP
	// stand against the velocity rules now. Errors: ErrNotFound.
	Velocity(ctx context.Context, merchantID, chargeID string) (*Velocity, error)
	// ClearVelocity lifts the velocity block of the charge's session, card
	// or client IP: the declines made until now stop counting against it
	// (later ones count again), and the clearance is recorded with the
	// operator's name. Clearing a scope that is not blocked is allowed and
	// recorded. Errors: ErrNotFound, *validation.Error (an unknown scope,
	// or the IP of a charge that has none).
	ClearVelocity(ctx context.Context, merchantID, chargeID string, scope VelocityScope, operator string) (*Velocity, error)
}

// CheckoutPage is a session with the merchant's branding.
type CheckoutPage struct {
	Session  *Session
	Merchant account.Merchant
	// PendingAuthentication is set while a charge waits for 3-D Secure.
	PendingAuthentication *Charge
}

// PayRequest is the submitted payment form, parsed.
type PayRequest struct {
	SessionID      string
	Card           Card
	CardholderName string
	Email          string
	ClientIP       netip.Addr
}

// PayResult says how an attempt ended.
type PayResult struct {
	Session *Session
	Charge  *Charge
	// Outcome is OutcomeSucceeded (session complete), OutcomeDeclined (see
	// Charge.FailureCode; the session stays open) or
	// OutcomeRequiresAuthentication (send the customer to the challenge).
	Outcome Outcome
}
