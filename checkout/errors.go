package checkout

import "errors"

var (
	// ErrNotFound means the object does not exist or belongs to another
	// merchant; the two are deliberately indistinguishable.
	ErrNotFound = errors.New("not found")
	// ErrSessionComplete means the session is already paid.
	ErrSessionComplete = errors.New("checkout session is already complete")
	// ErrSessionExpired means the session expired before it was paid.
	ErrSessionExpired = errors.New("checkout session has expired")
	// ErrNoPendingAuthentication means a 3-D Secure result arrived for a
	// session that is not waiting for one.
	ErrNoPendingAuthentication = errors.New("no payment is waiting for authentication")
)

// ValidationError reports one invalid request parameter. Param uses the
// API's bracket notation, e.g. "line_items[2][unit_amount]".
type ValidationError struct {
	Param   string
	Code    string
	Message string
}

// Error implements error.
func (e *ValidationError) Error() string { return e.Param + ": " + e.Message }

// Validation error codes.
const (
	CodeParameterMissing = "parameter_missing"
	CodeParameterInvalid = "parameter_invalid"
	CodeURLInvalid       = "url_invalid"
	CodeCurrencyInvalid  = "currency_invalid"
	CodeAmountTooLarge   = "amount_too_large"
	CodeAmountTooSmall   = "amount_too_small"
	CodeResourceMissing  = "resource_missing"
)

func invalid(param, code, message string) *ValidationError {
	return &ValidationError{Param: param, Code: code, Message: message}
}
