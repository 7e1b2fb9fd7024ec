package delivery

import (
	"errors"
	"time"
)

// Retention defaults: how long finished deliveries, their attempts and
// their events are kept before the pruner removes them.
const (
	// DefaultRetention is 30 days: long enough to look into a month of
	// deliveries and redrive any of them.
	DefaultRetention = 30 * 24 * time.Hour
	// MinRetention keeps a typo such as "30s" from wiping the attempt log of
	// deliveries an operator is still looking at.
	MinRetention = time.Hour
)

// ErrRetentionTooShort is returned by ValidateRetention.
var ErrRetentionTooShort = errors.New("retention must be 0 (keep forever) or at least 1h")

// FinishedStatuses are the statuses a delivery never leaves on its own: the
// pruner may remove such a delivery once it has been finished for longer
// than the retention. A pending delivery (held or not) is never pruned; a
// failed, cancelled or skipped one can be redriven until it is.
var FinishedStatuses = []Status{StatusSucceeded, StatusFailed, StatusCanceled, StatusSkipped}

// ValidateRetention accepts 0, meaning keep forever, or at least
// MinRetention.
func ValidateRetention(keep time.Duration) error {
	if keep != 0 && keep < MinRetention {
		return ErrRetentionTooShort
	}
	return nil
}

// PrunePause is how long the pruner rests after a batch that took took:
// as long again, unless a fixed pause is configured, so that pruning holds
// at most about half of one connection's time and deliveries, which share
// the database, keep theirs.
func PrunePause(took, fixed time.Duration) time.Duration {
	if fixed > 0 {
		return fixed
	}
	return took
}
