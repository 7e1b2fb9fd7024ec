package checkout

import "errors"

// Invalid parameters are reported as *validation.Error (package
// internal/validation), which the API answers with a 400.

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
	// ErrPaymentUnconfirmed means a charge was handed to the acquirer but its
	// answer could not be recorded, or the acquirer could not be asked about
	// an earlier such charge. Nothing is lost and nothing is charged twice:
	// the charge stays processing until it is reconciled by its key, on the
	// customer's next attempt or by the reconcile job.
	ErrPaymentUnconfirmed = errors.New("payment outcome not confirmed yet")
)
