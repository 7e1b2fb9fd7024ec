package webhook

import (
	"encoding/json"
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

// CheckoutSession is a checkout session as Herald's API returns it and as
// checkout.session.completed and checkout.session.expired events carry it.
// The client's calls return this type and the receiver's Fulfiller takes
// it, so the session a success page retrieves and the one a webhook brings
// are the same value, field for field.
//
// Fields the API sends as null hold their zero value: URL, CustomerEmail
// and ClientReferenceID are "" and Payment is nil. Created and ExpiresAt are
// Unix seconds on the wire and UTC times here.
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

// sessionWire is CheckoutSession's JSON: plain has the fields without the
// methods, so (un)marshalling it does not recurse, and the fields beside it,
// being less deeply nested, take the JSON names of plain's converted fields.
type sessionWire struct {
	*plainSession
	URL               *string `json:"url"`
	CustomerEmail     *string `json:"customer_email"`
	ClientReferenceID *string `json:"client_reference_id"`
	Created           *int64  `json:"created"`
	ExpiresAt         *int64  `json:"expires_at"`
}

type plainSession CheckoutSession

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (s *CheckoutSession) UnmarshalJSON(data []byte) error {
	wire := sessionWire{plainSession: (*plainSession)(s)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	s.URL, s.CustomerEmail, s.ClientReferenceID = fromNullString(wire.URL), fromNullString(wire.CustomerEmail), fromNullString(wire.ClientReferenceID)
	s.Created, s.ExpiresAt = fromUnix(wire.Created), fromUnix(wire.ExpiresAt)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero values
// of nullable fields as null.
func (s CheckoutSession) MarshalJSON() ([]byte, error) {
	return json.Marshal(sessionWire{
		plainSession: (*plainSession)(&s),
		URL:          toNullString(s.URL), CustomerEmail: toNullString(s.CustomerEmail),
		ClientReferenceID: toNullString(s.ClientReferenceID),
		Created:           toUnix(s.Created), ExpiresAt: toUnix(s.ExpiresAt),
	})
}

// IsPaid reports whether the session has been paid: the condition for
// fulfilling its order.
func (s *CheckoutSession) IsPaid() bool { return s.PaymentStatus == PaymentStatusPaid }

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
	// ThreeDSecure is the 3-D Secure outcome, one of the ThreeDSecure
	// constants.
	ThreeDSecure string `json:"three_d_secure"`
}
