// Package riverjob holds what Herald's River jobs have in common: which job
// states still have work ahead, the insert options of a job that never runs
// twice at once, and the leader's periodic schedule. The delivery, checkout
// and idempotency adapters each define their own jobs on top of it.
package riverjob

import (
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// LiveStates are the job states in which a job still has work ahead (or is
// running): a sweep that finds no job in one of them re-enqueues.
var LiveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// LiveStateNames are LiveStates as text, for an SQL argument.
func LiveStateNames() []string {
	out := make([]string, len(LiveStates))
	for i, st := range LiveStates {
		out[i] = string(st)
	}
	return out
}

// LiveStateList is LiveStates as an SQL list of quoted literals, for a
// condition written into a query's text.
func LiveStateList() string {
	return "'" + strings.Join(LiveStateNames(), "', '") + "'"
}

// OneLive is the insert options of a job that never runs twice at once:
// River inserts no second job with the same args while one is live.
func OneLive() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: LiveStates}}
}

// Periodic schedules args every interval, and once at start. River inserts
// periodic jobs from its elected leader only, so however many worker
// processes run there is one job per interval.
func Periodic(interval time.Duration, args river.JobArgs) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil }, &river.PeriodicJobOpts{RunOnStart: true})
}
