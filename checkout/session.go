package checkout

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldpay/herald/internal/validation"
	"github.com/heraldpay/herald/webhook"
)

// SessionStatus is where a checkout session is in its life:
// open → complete, or open → expired. Both ends are final.
type SessionStatus string

// Session statuses.
const (
	StatusOpen     SessionStatus = "open"
	StatusComplete SessionStatus = "complete"
	StatusExpired  SessionStatus = "expired"
)

// PaymentStatus says whether the session's money was collected.
type PaymentStatus string

// Payment statuses.
const (
	PaymentUnpaid PaymentStatus = "unpaid"
	PaymentPaid   PaymentStatus = "paid"
)

// SessionIDPlaceholder in a success_url is replaced by the session id.
const SessionIDPlaceholder = "{CHECKOUT_SESSION_ID}"

// Limits of the create parameters.
const (
	MaxLineItems          = 100
	MaxUnitAmount         = 99_999_999_999 // in minor units
	MaxQuantity           = 999_999
	MaxAmountTotal        = 99_999_999_999
	MaxMetadataKeys       = 50
	MaxMetadataKeyLen     = 40
	MaxMetadataValueLen   = 500
	MaxURLLen             = 2048
	MaxNameLen            = 250
	MaxClientReferenceLen = 200
	MinExpiresIn          = 1800
	MaxExpiresIn          = 86400
	DefaultExpiresIn      = 3600
)

// Session is a checkout session: what the customer is asked to pay and
// where their browser goes afterwards. Its JSON form is the API object.
type Session struct {
	ID                string
	MerchantID        string
	URL               string // the hosted page; shown only while open
	Status            SessionStatus
	PaymentStatus     PaymentStatus
	Currency          string
	AmountSubtotal    int64
	AmountTotal       int64
	LineItems         []LineItem
	SuccessURL        string
	CancelURL         string
	CustomerEmail     string
	ClientReferenceID string
	Metadata          map[string]string
	Created           time.Time
	ExpiresAt         time.Time
	Payment           *Payment // set once complete
}

// LineItem is one product line of a session, and Payment the charge that
// completed it. They are the SDK's types: the API object and the webhook
// payload are one contract, written once in package webhook.
type (
	LineItem = webhook.LineItem
	Payment  = webhook.Payment
)

// MarshalJSON renders the API object. Empty optional strings become null,
// times become Unix seconds.
func (s *Session) MarshalJSON() ([]byte, error) {
	lineItems := s.LineItems
	if lineItems == nil {
		lineItems = []LineItem{}
	}
	metadata := s.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	return json.Marshal(struct {
		ID                string            `json:"id"`
		Object            string            `json:"object"`
		URL               *string           `json:"url"`
		Status            SessionStatus     `json:"status"`
		PaymentStatus     PaymentStatus     `json:"payment_status"`
		Currency          string            `json:"currency"`
		AmountSubtotal    int64             `json:"amount_subtotal"`
		AmountTotal       int64             `json:"amount_total"`
		LineItems         []LineItem        `json:"line_items"`
		SuccessURL        string            `json:"success_url"`
		CancelURL         string            `json:"cancel_url"`
		CustomerEmail     *string           `json:"customer_email"`
		ClientReferenceID *string           `json:"client_reference_id"`
		Metadata          map[string]string `json:"metadata"`
		Created           int64             `json:"created"`
		ExpiresAt         int64             `json:"expires_at"`
		Payment           *Payment          `json:"payment"`
	}{
		ID: s.ID, Object: "checkout.session", URL: nullIfEmpty(s.hostedURL()),
		Status: s.Status, PaymentStatus: s.PaymentStatus, Currency: s.Currency,
		AmountSubtotal: s.AmountSubtotal, AmountTotal: s.AmountTotal, LineItems: lineItems,
		SuccessURL: s.SuccessURL, CancelURL: s.CancelURL,
		CustomerEmail: nullIfEmpty(s.CustomerEmail), ClientReferenceID: nullIfEmpty(s.ClientReferenceID),
		Metadata: metadata, Created: s.Created.Unix(), ExpiresAt: s.ExpiresAt.Unix(), Payment: s.Payment,
	})
}

func (s *Session) hostedURL() string {
	if s.Status != StatusOpen {
		return ""
	}
	return s.URL
}

func nullIfEmpty(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// Payable reports whether the customer may pay the session at now. An open
// session past expires_at is not payable even before the expiry job runs.
func (s *Session) Payable(now time.Time) error {
	switch {
	case s.Status == StatusComplete:
		return ErrSessionComplete
	case s.Status == StatusExpired, !now.Before(s.ExpiresAt):
		return ErrSessionExpired
	}
	return nil
}

// Complete marks the session paid by payment at now.
func (s *Session) Complete(payment Payment, email string, now time.Time) error {
	if err := s.Payable(now); err != nil {
		return err
	}
	s.Status = StatusComplete
	s.PaymentStatus = PaymentPaid
	s.Payment = &payment
	if s.CustomerEmail == "" {
		s.CustomerEmail = email
	}
	return nil
}

// Expire ends an open session unpaid. It fails with ErrSessionComplete for a
// paid session; expiring an expired session is a no-op.
func (s *Session) Expire() error {
	switch s.Status {
	case StatusComplete:
		return ErrSessionComplete
	case StatusExpired:
		return nil
	}
	s.Status = StatusExpired
	return nil
}

// SuccessRedirect is where the browser goes after payment: success_url with
// {CHECKOUT_SESSION_ID} replaced, or with session_id appended as a query
// parameter when the placeholder is absent.
func (s *Session) SuccessRedirect() string {
	if strings.Contains(s.SuccessURL, SessionIDPlaceholder) {
		return strings.ReplaceAll(s.SuccessURL, SessionIDPlaceholder, s.ID)
	}
	u, err := url.Parse(s.SuccessURL)
	if err != nil {
		// Validated on create; unreachable unless the row was edited by hand.
		return s.SuccessURL
	}
	q := u.Query()
	q.Set("session_id", s.ID)
	u.RawQuery = q.Encode()
	return u.String()
}

// CreateSessionParams is the body of POST /v1/checkout/sessions. Pointer
// fields tell "missing" from zero.
type CreateSessionParams struct {
	LineItems         []LineItemParams  `json:"line_items"`
	Currency          string            `json:"currency"`
	SuccessURL        string            `json:"success_url"`
	CancelURL         string            `json:"cancel_url"`
	CustomerEmail     string            `json:"customer_email"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	ExpiresIn         *int64            `json:"expires_in"`
}

// LineItemParams is one element of CreateSessionParams.LineItems.
type LineItemParams struct {
	Name       string `json:"name"`
	UnitAmount *int64 `json:"unit_amount"`
	Quantity   *int64 `json:"quantity"`
	ImageURL   string `json:"image_url"`
}

// NewSession validates p and returns an open session with server-computed
// totals. Errors: *validation.Error naming the first bad parameter.
func NewSession(p CreateSessionParams, merchantID, sessionID string, now time.Time) (*Session, error) {
	s := &Session{
		ID:            sessionID,
		MerchantID:    merchantID,
		Status:        StatusOpen,
		PaymentStatus: PaymentUnpaid,
		Created:       now.Truncate(time.Second),
		Metadata:      map[string]string{},
	}
	if len(p.LineItems) == 0 {
		return nil, &validation.Error{Param: "line_items", Code: validation.CodeMissing,
			Message: "at least one line item is required"}
	}
	if len(p.LineItems) > MaxLineItems {
		return nil, &validation.Error{Param: "line_items", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("at most %d line items are allowed", MaxLineItems)}
	}
	if p.Currency == "" {
		return nil, &validation.Error{Param: "currency", Code: validation.CodeMissing, Message: "currency is required"}
	}
	if validation.HasControl(p.Currency) {
		return nil, validation.Control("currency")
	}
	s.Currency = strings.ToLower(p.Currency)
	if _, ok := currencyExponents[s.Currency]; !ok {
		return nil, &validation.Error{Param: "currency", Code: validation.CodeCurrencyInvalid,
			Message: fmt.Sprintf("%q is not a supported ISO 4217 currency code", p.Currency)}
	}
	for i, lp := range p.LineItems {
		item, err := newLineItem(lp, fmt.Sprintf("line_items[%d]", i))
		if err != nil {
			return nil, err
		}
		total, carry := bits.Add64(uint64(s.AmountSubtotal), uint64(item.AmountTotal), 0)
		if carry != 0 || total > MaxAmountTotal {
			return nil, &validation.Error{Param: "line_items", Code: validation.CodeAmountTooLarge,
				Message: fmt.Sprintf("the total must be at most %d", MaxAmountTotal)}
		}
		s.AmountSubtotal = int64(total)
		s.LineItems = append(s.LineItems, item)
	}
	if s.AmountSubtotal == 0 {
		return nil, &validation.Error{Param: "line_items", Code: validation.CodeAmountTooSmall,
			Message: "the total must be greater than zero"}
	}
	s.AmountTotal = s.AmountSubtotal

	var err error
	if s.SuccessURL, err = validateURL("success_url", p.SuccessURL, true); err != nil {
		return nil, err
	}
	if s.CancelURL, err = validateURL("cancel_url", p.CancelURL, true); err != nil {
		return nil, err
	}
	if p.CustomerEmail != "" {
		if s.CustomerEmail, err = ValidateEmail("customer_email", p.CustomerEmail); err != nil {
			return nil, err
		}
	}
	if p.ClientReferenceID != "" {
		if validation.HasControl(p.ClientReferenceID) {
			return nil, validation.Control("client_reference_id")
		}
		if utf8.RuneCountInString(p.ClientReferenceID) > MaxClientReferenceLen || !printable(p.ClientReferenceID) {
			return nil, &validation.Error{Param: "client_reference_id", Code: validation.CodeInvalid,
				Message: fmt.Sprintf("must be at most %d printable characters", MaxClientReferenceLen)}
		}
		s.ClientReferenceID = p.ClientReferenceID
	}
	if err := validateMetadata(p.Metadata); err != nil {
		return nil, err
	}
	for k, v := range p.Metadata {
		s.Metadata[k] = v
	}
	expiresIn := int64(DefaultExpiresIn)
	if p.ExpiresIn != nil {
		expiresIn = *p.ExpiresIn
		if expiresIn < MinExpiresIn || expiresIn > MaxExpiresIn {
			return nil, &validation.Error{Param: "expires_in", Code: validation.CodeInvalid,
				Message: fmt.Sprintf("must be between %d and %d seconds", MinExpiresIn, MaxExpiresIn)}
		}
	}
	s.ExpiresAt = s.Created.Add(time.Duration(expiresIn) * time.Second)
	return s, nil
}

func newLineItem(p LineItemParams, param string) (LineItem, error) {
	name := strings.TrimSpace(p.Name)
	switch {
	case validation.HasControl(p.Name):
		return LineItem{}, validation.Control(param + "[name]")
	case name == "":
		return LineItem{}, &validation.Error{Param: param + "[name]", Code: validation.CodeMissing, Message: "name is required"}
	case utf8.RuneCountInString(name) > MaxNameLen || !printable(name):
		return LineItem{}, &validation.Error{Param: param + "[name]", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("must be at most %d printable characters", MaxNameLen)}
	case p.UnitAmount == nil:
		return LineItem{}, &validation.Error{Param: param + "[unit_amount]", Code: validation.CodeMissing,
			Message: "unit_amount is required (an integer in the currency's minor unit)"}
	case *p.UnitAmount < 0:
		return LineItem{}, &validation.Error{Param: param + "[unit_amount]", Code: validation.CodeInvalid,
			Message: "must not be negative"}
	case *p.UnitAmount > MaxUnitAmount:
		return LineItem{}, &validation.Error{Param: param + "[unit_amount]", Code: validation.CodeAmountTooLarge,
			Message: fmt.Sprintf("must be at most %d", int64(MaxUnitAmount))}
	case p.Quantity == nil:
		return LineItem{}, &validation.Error{Param: param + "[quantity]", Code: validation.CodeMissing,
			Message: "quantity is required"}
	case *p.Quantity < 1 || *p.Quantity > MaxQuantity:
		return LineItem{}, &validation.Error{Param: param + "[quantity]", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("must be between 1 and %d", MaxQuantity)}
	}
	hi, lo := bits.Mul64(uint64(*p.UnitAmount), uint64(*p.Quantity))
	if hi != 0 || lo > MaxAmountTotal {
		return LineItem{}, &validation.Error{Param: param, Code: validation.CodeAmountTooLarge,
			Message: fmt.Sprintf("unit_amount × quantity must be at most %d", int64(MaxAmountTotal))}
	}
	item := LineItem{Name: name, UnitAmount: *p.UnitAmount, Quantity: *p.Quantity, AmountTotal: int64(lo)}
	if p.ImageURL != "" {
		var err error
		if item.ImageURL, err = validateURL(param+"[image_url]", p.ImageURL, false); err != nil {
			return LineItem{}, err
		}
	}
	return item, nil
}

// validateURL accepts absolute http(s) URLs without credentials whose host
// is a DNS name or an IP address (see Origin); an empty value is an error
// only when required. {CHECKOUT_SESSION_ID} passes as is.
func validateURL(param, raw string, required bool) (string, error) {
	if raw == "" {
		if required {
			return "", &validation.Error{Param: param, Code: validation.CodeMissing, Message: param + " is required"}
		}
		return "", nil
	}
	if validation.HasControl(raw) {
		return "", validation.Control(param)
	}
	if len(raw) > MaxURLLen {
		return "", &validation.Error{Param: param, Code: validation.CodeURLInvalid,
			Message: fmt.Sprintf("must be at most %d characters", MaxURLLen)}
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", &validation.Error{Param: param, Code: validation.CodeURLInvalid,
			Message: "must be an absolute http or https URL"}
	}
	if _, ok := Origin(raw); !ok {
		return "", &validation.Error{Param: param, Code: validation.CodeURLInvalid,
			Message: "the host must be a DNS name (letters, digits, hyphens and dots) or an IP address, with an optional port from 1 to 65535"}
	}
	if u.User != nil {
		return "", &validation.Error{Param: param, Code: validation.CodeURLInvalid, Message: "must not contain credentials"}
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return "", &validation.Error{Param: param, Code: validation.CodeURLInvalid, Message: "must not contain whitespace"}
	}
	return raw, nil
}

// ValidateEmail checks a bare address (no display name) and returns it
// trimmed; param names the field in the error.
func ValidateEmail(param, raw string) (string, error) {
	if validation.HasControl(raw) {
		return "", validation.Control(param)
	}
	raw = strings.TrimSpace(raw)
	addr, err := mail.ParseAddress(raw)
	if err != nil || addr.Address != raw || len(raw) > 254 || !strings.Contains(raw[strings.LastIndexByte(raw, '@'):], ".") {
		return "", &validation.Error{Param: param, Code: validation.CodeInvalid, Message: "must be a valid email address"}
	}
	return raw, nil
}

func validateMetadata(md map[string]string) error {
	if len(md) > MaxMetadataKeys {
		return &validation.Error{Param: "metadata", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("at most %d keys are allowed", MaxMetadataKeys)}
	}
	for k, v := range md {
		param := "metadata[" + k + "]"
		switch {
		case validation.HasControl(k):
			// The key is the bad part: name the object, not the key.
			return &validation.Error{Param: "metadata", Code: validation.CodeInvalid, Message: "keys: " + validation.MessageControl}
		case validation.HasControl(v):
			return validation.Control(param)
		case k == "" || utf8.RuneCountInString(k) > MaxMetadataKeyLen || !printable(k) || strings.ContainsAny(k, "[]"):
			return &validation.Error{Param: param, Code: validation.CodeInvalid,
				Message: fmt.Sprintf("keys must be 1 to %d printable characters without brackets", MaxMetadataKeyLen)}
		case utf8.RuneCountInString(v) > MaxMetadataValueLen:
			return &validation.Error{Param: param, Code: validation.CodeInvalid,
				Message: fmt.Sprintf("values must be at most %d characters", MaxMetadataValueLen)}
		}
	}
	return nil
}

// printable rejects control characters and invalid UTF-8, which have no
// business in names shown on the payment page or in webhooks.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
