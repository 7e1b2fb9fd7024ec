package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/heraldpay/herald/webhook"
)

// The API's objects are the webhook package's types, so that what the client
// returns and what a webhook brings are one type: a success page hands the
// session it retrieved straight to the receiver's Fulfiller. The aliases
// below let client code name them without importing webhook.
type (
	// CheckoutSession is webhook.CheckoutSession.
	CheckoutSession = webhook.CheckoutSession
	// LineItem is webhook.LineItem.
	LineItem = webhook.LineItem
	// Payment is webhook.Payment.
	Payment = webhook.Payment
)

// SessionIDPlaceholder in a SuccessURL is replaced by the session's ID when
// Herald sends the customer back.
const SessionIDPlaceholder = "{CHECKOUT_SESSION_ID}"

const sessionsPath = "/v1/checkout/sessions"

// CreateSessionParams is the body of SessionService.Create. Optional fields
// left at their zero value are not sent, so Herald's defaults apply.
type CreateSessionParams struct {
	// LineItems are the products: 1 to 100.
	LineItems []LineItemParams `json:"line_items"`
	// Currency is an ISO 4217 code, in either case; amounts are in its
	// minor unit (usd: cents).
	Currency string `json:"currency"`
	// SuccessURL is where the customer goes after paying. Put
	// SessionIDPlaceholder in it to learn the session's ID there.
	SuccessURL string `json:"success_url"`
	// CancelURL is where the customer goes back to, without paying.
	CancelURL string `json:"cancel_url"`
	// CustomerEmail prefills (and locks) the email field of the page.
	CustomerEmail string `json:"customer_email,omitempty"`
	// ClientReferenceID is your order id, at most 200 characters.
	ClientReferenceID string `json:"client_reference_id,omitempty"`
	// Metadata is up to 50 keys of yours, echoed in the session and its
	// webhooks.
	Metadata map[string]string `json:"metadata,omitempty"`
	// ExpiresIn is the session's lifetime in seconds, 1800–86400; 0 leaves
	// Herald's default of 3600.
	ExpiresIn int64 `json:"expires_in,omitempty"`
}

// LineItemParams is one element of CreateSessionParams.LineItems.
type LineItemParams struct {
	// Name is shown on the payment page: 1 to 250 characters.
	Name string `json:"name"`
	// UnitAmount is in the currency's minor unit; 0 is a free item.
	UnitAmount int64 `json:"unit_amount"`
	// Quantity is 1 to 999,999.
	Quantity int64 `json:"quantity"`
	// ImageURL is an optional absolute http(s) URL of a product picture.
	ImageURL string `json:"image_url,omitempty"`
}

// SessionService is the checkout sessions API: Client.Sessions.
type SessionService struct{ c *Client }

// Create creates a checkout session; redirect the customer to the returned
// session's URL. It is sent with an Idempotency-Key (a random one unless
// WithIdempotencyKey gives yours), so retries never create two sessions.
func (s *SessionService) Create(ctx context.Context, params CreateSessionParams, opts ...RequestOption) (*CheckoutSession, error) {
	return send[CheckoutSession](ctx, s.c, http.MethodPost, sessionsPath, nil, params, opts)
}

// Get retrieves the session with the given ID. Another merchant's session
// answers 404, like an unknown one.
func (s *SessionService) Get(ctx context.Context, id string) (*CheckoutSession, error) {
	return get[CheckoutSession](ctx, s.c, sessionsPath, "session", id)
}

// List iterates over the sessions, newest first, fetching pages of
// params.Limit as it goes. An error ends the iteration.
func (s *SessionService) List(ctx context.Context, params ListParams) iter.Seq2[*CheckoutSession, error] {
	return all(ctx, s.c, sessionsPath, params.query(), func(s *CheckoutSession) string { return s.ID })
}

// Page returns one page of sessions, newest first.
func (s *SessionService) Page(ctx context.Context, params ListParams) (*List[CheckoutSession], error) {
	return page[CheckoutSession](ctx, s.c, sessionsPath, params.query())
}

// Expire ends an open session unpaid, so its page stops taking payment.
// Expiring an expired session returns it unchanged; a complete one answers
// 409 (ErrorTypeInvalidRequest, code "session_complete").
func (s *SessionService) Expire(ctx context.Context, id string, opts ...RequestOption) (*CheckoutSession, error) {
	return post[CheckoutSession](ctx, s.c, sessionsPath, "session", id, "expire", nil, opts)
}
