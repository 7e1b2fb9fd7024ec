package deliverypg

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/riverjob"
)

// SweepArgs is the periodic job that finds orphaned deliveries: pending,
// not held, and without a live job of their current job_seq. Whatever made
// them so — a job that used up River's attempts on infrastructure failures,
// a job deleted by hand in River UI, a bug — the sweeper enqueues a new
// job, so that every pending delivery is always on its way.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "herald.sweep_orphans" }

// InsertOpts implements river.JobArgsWithInsertOpts: one sweep at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return riverjob.OneLive()
}

// SweepPeriodicJob schedules the sweep every interval, and once at start.
// River runs periodic jobs on its elected leader only (see riverjob.Periodic), so
// one process sweeps at a time.
func SweepPeriodicJob(interval time.Duration) *river.PeriodicJob {
	return riverjob.Periodic(interval, SweepArgs{})
}

// sweepBatch is how many orphans one transaction of a sweep enqueues.
const sweepBatch = 500

// SweepWorker works SweepArgs.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	pool    *pgxpool.Pool
	metrics *Metrics
	logger  *slog.Logger
}

// NewSweepWorker returns the worker. metrics may be nil.
func NewSweepWorker(pool *pgxpool.Pool, metrics *Metrics, logger *slog.Logger) *SweepWorker {
	if logger == nil {
		logger = slog.Default()
	}
	return &SweepWorker{pool: pool, metrics: metrics, logger: logger}
}

// Work implements river.Worker.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	inserter := river.ClientFromContext[pgx.Tx](ctx)
	total := 0
	for {
		n, err := Sweep(ctx, w.pool, inserter, sweepBatch)
		total += n
		if err != nil || n < sweepBatch {
			if total > 0 {
				w.logger.Warn("re-enqueued orphaned deliveries", "count", total)
				w.metrics.orphansFound(total)
			}
			return err
		}
	}
}

// Sweep enqueues a new job for up to limit orphaned deliveries, oldest
// first, and returns how many. Each gets a new job_seq, so that a stale job
// brought back to life later (a retry clicked in River UI) exits at once
// instead of racing the new one; a delivery whose retry was scheduled keeps
// its time. Rows locked by someone else are left for the next sweep.
func Sweep(ctx context.Context, pool *pgxpool.Pool, inserter JobInserter, limit int) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		// Only a pending delivery off the hot path can be orphaned: one
		// waiting for its first attempt has a live job, and leaves the hot
		// path when that job goes without an attempt (migration 00012's
		// trigger on river_job), so deliveries_rare_created finds them all.
		rows, err := tx.Query(ctx, `UPDATE deliveries d SET job_seq = job_seq + 1,
				`+setRareStatus(map[string]string{"job_seq": "d.job_seq + 1"})+`
			WHERE id IN (SELECT d.id FROM deliveries d WHERE `+RareStatus(delivery.StatusPending)+` AND NOT d.held
				AND NOT `+hasLiveJob+` ORDER BY d.created_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
			RETURNING id, job_seq, next_attempt_at`, limit)
		if err != nil {
			return fmt.Errorf("find orphaned deliveries: %w", err)
		}
		var params []river.InsertManyParams
		for rows.Next() {
			var job DeliverArgs
			var next *time.Time
			if err := rows.Scan(&job.DeliveryID, &job.Seq, &next); err != nil {
				rows.Close()
				return fmt.Errorf("find orphaned deliveries: %w", err)
			}
			p := river.InsertManyParams{Args: job}
			if next != nil {
				p.InsertOpts = &river.InsertOpts{ScheduledAt: *next}
			}
			params = append(params, p)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find orphaned deliveries: %w", err)
		}
		n = len(params)
		if n == 0 {
			return nil
		}
		if _, err := inserter.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("enqueue orphaned deliveries: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
