package delivery

import "errors"

var (
	// ErrNotFound means the object does not exist or belongs to another
	// merchant; the two are deliberately indistinguishable.
	ErrNotFound = errors.New("not found")
	// ErrEndpointDisabled refuses work on a disabled endpoint.
	ErrEndpointDisabled = errors.New("endpoint is disabled")
	// ErrRedriveFinished refuses to cancel a redrive that already ended.
	ErrRedriveFinished = errors.New("redrive already finished")
)

// ValidationError reports one invalid request parameter, named in the API's
// bracket notation.
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
	CodeResourceMissing  = "resource_missing"
)

func invalid(param, code, message string) *ValidationError {
	return &ValidationError{Param: param, Code: code, Message: message}
}
