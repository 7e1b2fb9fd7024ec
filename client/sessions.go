package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Checkout session statuses, as in CheckoutSession.Status. open becomes
// complete or expired; both are final.
const (
	SessionStatusOpen     = "open"
	SessionStatusComplete = "complete"
	SessionStatusExpired  = "expired"
)

// Payment statuses, as in CheckoutSession.PaymentStatus.
const (
	PaymentStatusUnpaid = "unpaid"
	PaymentStatusPaid   = "paid"
)

// SessionIDPlaceholder in a SuccessURL is replaced by the session's ID when
// Herald sends the customer back.
const SessionIDPlaceholder = "{CHECKOUT_SESSION_ID}"

const sessionsPath = "/v1/checkout/sessions"

// CheckoutSession is a checkout session as the API returns it. Fields the
// API sends as null hold their zero value: URL, CustomerEmail and
// ClientReferenceID are "" and Payment is nil. Created and ExpiresAt are
// Unix seconds on the wire and UTC times here; json.Marshal writes them back
// as Unix seconds, so a session round-trips through JSON.
type CheckoutSession struct {
	// ID is the session's id, cs_…: unguessable, safe to put in URLs.
	ID string `json:"id"`
	// Object is always "checkout.session".
	Object string `json:"object"`
	// URL is the hosted payment page to redirect the customer to. It is
	// set only while the session is open.
	URL string `json:"url"`
	// Status is one of the SessionStatus constants.
	Status string `json:"status"`
	// PaymentStatus is one of the PaymentStatus constants.
	PaymentStatus string `json:"payment_status"`
	// Currency is the lowercase ISO 4217 code.
	Currency string `json:"currency"`
	// AmountSubtotal and AmountTotal are in the currency's minor unit,
	// computed by Herald from the line items.
	AmountSubtotal int64 `json:"amount_subtotal"`
	AmountTotal    int64 `json:"amount_total"`
	// LineItems are the products, as created, with their totals.
	LineItems []LineItem `json:"line_items"`
	// SuccessURL and CancelURL are where the customer's browser goes
	// after paying or giving up.
	SuccessURL string `json:"success_url"`
	CancelURL  string `json:"cancel_url"`
	// CustomerEmail is the prefilled email, or the one the customer
	// entered once the session is complete; "" when neither.
	CustomerEmail string `json:"customer_email"`
	// ClientReferenceID is your order id, as given on create.
	ClientReferenceID string `json:"client_reference_id"`
	// Metadata is yours, as given on create; never nil in an answer.
	Metadata map[string]string `json:"metadata"`
	// Created is when the session was created.
	Created time.Time `json:"created"`
	// ExpiresAt is when an unpaid session stops accepting payment.
	ExpiresAt time.Time `json:"expires_at"`
	// Payment is set once the session is complete.
	Payment *Payment `json:"payment"`
}

// UnmarshalJSON decodes the API object, converting Unix-second times.
func (s *CheckoutSession) UnmarshalJSON(data []byte) error {
	// plain has CheckoutSession's fields without its methods, so decoding
	// into it does not recurse; the wire's time fields, being less deeply
	// nested, take the JSON names from plain's time.Time fields.
	type plain CheckoutSession
	wire := struct {
		*plain
		Created   *int64 `json:"created"`
		ExpiresAt *int64 `json:"expires_at"`
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	s.Created, s.ExpiresAt = fromUnix(wire.Created), fromUnix(wire.ExpiresAt)
	return nil
}

// MarshalJSON encodes the API object, with times in Unix seconds.
func (s CheckoutSession) MarshalJSON() ([]byte, error) {
	type plain CheckoutSession
	return json.Marshal(struct {
		*plain
		Created   *int64 `json:"created"`
		ExpiresAt *int64 `json:"expires_at"`
	}{plain: (*plain)(&s), Created: toUnix(s.Created), ExpiresAt: toUnix(s.ExpiresAt)})
}

// LineItem is one product line of a session.
type LineItem struct {
	Name string `json:"name"`
	// UnitAmount is the price of one unit in the currency's minor unit.
	UnitAmount int64 `json:"unit_amount"`
	Quantity   int64 `json:"quantity"`
	// AmountTotal is UnitAmount × Quantity, computed by Herald.
	AmountTotal int64 `json:"amount_total"`
	// ImageURL is "" when the line has no image.
	ImageURL string `json:"image_url,omitempty"`
}

// Payment summarises the charge that completed a session.
type Payment struct {
	// ID is the charge's id, ch_….
	ID string `json:"id"`
	// Brand is the card brand, such as "visa".
	Brand string `json:"brand"`
	// Last4 is the card number's last four digits.
	Last4 string `json:"last4"`
	// ThreeDSecure is the 3-D Secure outcome, such as "authenticated" or
	// "not_required".
	ThreeDSecure string `json:"three_d_secure"`
}

// CreateSessionParams is the body of CreateSession. Optional fields left at
// their zero value are not sent, so Herald's defaults apply.
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

// CreateSession creates a checkout session; redirect the customer to the
// returned session's URL. It is sent with an Idempotency-Key (a random one
// unless WithIdempotencyKey gives yours), so retries never create two
// sessions.
func (c *Client) CreateSession(ctx context.Context, params CreateSessionParams, opts ...RequestOption) (*CheckoutSession, error) {
	var s CheckoutSession
	if err := c.do(ctx, http.MethodPost, sessionsPath, nil, params, &s, opts); err != nil {
		return nil, err
	}
	return &s, nil
}

// GetSession retrieves the session with the given ID. Another merchant's
// session answers 404, like an unknown one.
func (c *Client) GetSession(ctx context.Context, id string) (*CheckoutSession, error) {
	path, err := objectPath(sessionsPath, "session", id, "")
	if err != nil {
		return nil, err
	}
	var s CheckoutSession
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &s, nil); err != nil {
		return nil, err
	}
	return &s, nil
}

// ListSessions returns a page of sessions, newest first.
func (c *Client) ListSessions(ctx context.Context, params ListParams) (*List[CheckoutSession], error) {
	var l List[CheckoutSession]
	if err := c.do(ctx, http.MethodGet, sessionsPath, params.query(), nil, &l, nil); err != nil {
		return nil, err
	}
	return &l, nil
}

// ExpireSession ends an open session unpaid, so its page stops taking
// payment. Expiring an expired session returns it unchanged; a complete one
// answers 409 (ErrorTypeInvalidRequest, code "session_complete").
func (c *Client) ExpireSession(ctx context.Context, id string, opts ...RequestOption) (*CheckoutSession, error) {
	path, err := objectPath(sessionsPath, "session", id, "expire")
	if err != nil {
		return nil, err
	}
	var s CheckoutSession
	if err := c.do(ctx, http.MethodPost, path, nil, nil, &s, opts); err != nil {
		return nil, err
	}
	return &s, nil
}
