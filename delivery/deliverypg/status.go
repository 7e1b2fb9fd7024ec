package deliverypg

import (
	"slices"
	"strings"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/riverjob"
)

// How a query finds the deliveries of a status (migration 00012). The
// delivery's indexes hold only what never changes (merchant, endpoint,
// created_at) and rare_status, so that a delivery's success changes no
// index entry and is written as a HOT update. rare_status is the status of
// a delivery in a rare state, and NULL on the hot path:
//
//   - succeeded: status = 'succeeded', read in created_at order from the
//     full indexes (nearly every delivery is one);
//   - failed, canceled, skipped, and pending after an attempt, a hold, a
//     redrive or a put-off (breaker open, cap reached: an outage's backlog):
//     rare_status, from its partial indexes;
//   - pending and waiting for its first attempt, never put off ("queued"):
//     through its live River job, one primary-key lookup per live delivery
//     job, so the cost follows the fresh backlog, never the history.

// queued is an SQL condition on a delivery d: pending, waiting for its
// first attempt, found through the live delivery jobs.
var queued = `d.status = '` + string(delivery.StatusPending) + `' AND d.rare_status IS NULL
	AND d.id = ANY (ARRAY(SELECT j.args->>'delivery_id' FROM river_job j WHERE j.kind = '` + DeliverArgs{}.Kind() + `'
		AND j.state IN (` + riverjob.LiveStateList() + `)))`

// StatusBranches returns the SQL conditions on a delivery d that find the
// deliveries of status st, each to be read on its own (a UNION ALL of
// branches, each ordered and limited, reads each from its index): one for
// most statuses, two for pending (in the rare states, and queued). The
// empty status is every delivery, and an unknown one none.
func StatusBranches(st delivery.Status) []string {
	switch {
	case st == "":
		return []string{"true"}
	case st == delivery.StatusSucceeded:
		return []string{`d.status = '` + string(st) + `'`}
	case st == delivery.StatusPending:
		return []string{RareStatus(st), queued}
	case slices.Contains(delivery.Statuses, st):
		return []string{RareStatus(st)}
	default:
		return []string{"false"}
	}
}

// RareStatus is the SQL condition on a delivery d that it is in the rare
// state st: failed, canceled, skipped, or pending but off the hot path. The
// status is written out, a known constant, so that the planner matches the
// partial indexes however the statement is planned.
func RareStatus(st delivery.Status) string {
	if !slices.Contains(delivery.Statuses, st) || st == delivery.StatusSucceeded {
		return "false"
	}
	return `d.rare_status = '` + string(st) + `'`
}

// setRareStatus is the SET item that keeps rare_status in step with an
// UPDATE of deliveries d (migration 00014; no trigger does it, because a
// BEFORE UPDATE trigger would lock every row it updates). assigned maps
// each column rare_status is computed from that the UPDATE sets (status,
// attempts, held, job_seq, deferred) to the expression it sets it to; the
// others keep their values. An UPDATE without it is repaired by a second
// one, and the tests fail on the repair's NOTICE.
func setRareStatus(assigned map[string]string) string {
	args := []string{"status", "attempts", "held", "job_seq", "deferred"}
	for i, col := range args {
		if e, ok := assigned[col]; ok {
			args[i] = e
		} else {
			args[i] = "d." + col
		}
	}
	return "rare_status = delivery_rare_status(" + strings.Join(args, ", ") + ")"
}
