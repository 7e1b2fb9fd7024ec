package delivery

import "errors"

// Invalid parameters are reported as *validation.Error (package
// internal/validation), which the API answers with a 400.

var (
	// ErrNotFound means the object does not exist or belongs to another
	// merchant; the two are deliberately indistinguishable.
	ErrNotFound = errors.New("not found")
	// ErrEndpointDisabled refuses work on a disabled endpoint.
	ErrEndpointDisabled = errors.New("endpoint is disabled")
	// ErrRedriveFinished refuses to cancel a redrive that already ended.
	ErrRedriveFinished = errors.New("redrive already finished")
)
