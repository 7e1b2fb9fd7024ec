package delivery

import (
	"time"

	"github.com/heraldpay/herald/internal/validation"
)

// EventFilter selects and pages an events list, for reconciliation: a time
// window, a type, and the events some endpoint has not yet acknowledged.
type EventFilter struct {
	// Type keeps events of this type only.
	Type string
	// CreatedGTE and CreatedLT bound the events' created time: at or after
	// CreatedGTE, before CreatedLT.
	CreatedGTE *time.Time
	CreatedLT  *time.Time
	// DeliverySuccess, when set to false, keeps the events that have at
	// least one delivery not succeeded: failed, skipped, canceled, or still
	// pending (retrying, held or not yet attempted). Set to true it keeps
	// the events whose every delivery (at least one) has succeeded. Events
	// that matched no endpoint have no delivery and match neither.
	DeliverySuccess *bool
	// Limit is the page size (1–100).
	Limit int
	// StartingAfter pages towards older events: those after this one in the
	// list's newest-first order. EndingBefore pages back towards newer ones;
	// the page keeps the newest-first order. At most one of the two is set.
	StartingAfter string
	EndingBefore  string
}

// Validate checks the filter's window and cursors. Errors:
// *validation.Error.
func (f EventFilter) Validate() error {
	if f.StartingAfter != "" && f.EndingBefore != "" {
		return &validation.Error{Param: "ending_before", Code: validation.CodeInvalid,
			Message: "starting_after and ending_before cannot be used together."}
	}
	if f.CreatedGTE != nil && f.CreatedLT != nil && !f.CreatedLT.After(*f.CreatedGTE) {
		return &validation.Error{Param: "created[lt]", Code: validation.CodeInvalid,
			Message: "created[lt] must be later than created[gte]."}
	}
	return nil
}
