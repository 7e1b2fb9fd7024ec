// Package validation describes an invalid request parameter. The domain
// packages (checkout, delivery) return *Error from their validation, and
// httpapi answers it with a 400 naming the parameter, in one place.
package validation

// Error reports one invalid parameter. Param uses the API's bracket
// notation, e.g. "line_items[2][unit_amount]".
type Error struct {
	Param   string
	Code    string
	Message string
}

// Error implements error.
func (e *Error) Error() string { return e.Param + ": " + e.Message }

// Codes, as in the "code" field of the API error.
const (
	CodeMissing         = "parameter_missing"
	CodeInvalid         = "parameter_invalid"
	CodeURLInvalid      = "url_invalid"
	CodeCurrencyInvalid = "currency_invalid"
	CodeAmountTooLarge  = "amount_too_large"
	CodeAmountTooSmall  = "amount_too_small"
	CodeResourceMissing = "resource_missing"
)

// Invalid returns an *Error.
func Invalid(param, code, message string) *Error {
	return &Error{Param: param, Code: code, Message: message}
}
