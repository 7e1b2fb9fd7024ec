package idempotency

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// CleanupArgs is the periodic job deleting keys past their TTL.
type CleanupArgs struct{}

// Kind implements river.JobArgs.
func (CleanupArgs) Kind() string { return "herald.idempotency_cleanup" }

// CleanupWorker works CleanupArgs.
type CleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	store *Store
}

// NewCleanupWorker returns the worker for store.
func NewCleanupWorker(store *Store) *CleanupWorker { return &CleanupWorker{store: store} }

// Work deletes expired keys.
func (w *CleanupWorker) Work(ctx context.Context, _ *river.Job[CleanupArgs]) error {
	_, err := w.store.DeleteExpired(ctx)
	return err
}

// CleanupPeriodicJob schedules the cleanup every interval.
func CleanupPeriodicJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return CleanupArgs{}, nil }, nil)
}
