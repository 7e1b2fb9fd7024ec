package deliverypg

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/riverjob"
)

// PruneArgs is the periodic job that removes what the retention no longer
// keeps: deliveries finished longer ago than that, with their attempts, and
// then events older than that which have no delivery left.
type PruneArgs struct{}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return "herald.prune" }

// InsertOpts implements river.JobArgsWithInsertOpts: one pruner at a time
// in the whole cluster. While a run is snoozed to carry on (see
// PruneWorker) the periodic job adds no second one.
func (PruneArgs) InsertOpts() river.InsertOpts {
	return riverjob.OneLive()
}

// PrunePeriodicJob schedules the pruner every interval, and once at start:
// one prune job per interval in the cluster (see riverjob.Periodic), and the
// job's uniqueness keeps it from ever running twice at once.
func PrunePeriodicJob(interval time.Duration) *river.PeriodicJob {
	return riverjob.Periodic(interval, PruneArgs{})
}

// Prune defaults.
const (
	// DefaultPruneBatch bounds one transaction of the pruner: this many
	// deliveries (each with its attempts, one or a few) or events.
	DefaultPruneBatch = 500
	// DefaultPruneMaxRun bounds one run of the prune job, well below
	// River's job timeout (delivery timeout + 10 s, at least 10 s).
	DefaultPruneMaxRun = 5 * time.Second
	// pruneResumeAfter is when a run that used up its time carries on.
	pruneResumeAfter = time.Second
)

// PruneConfig configures a Pruner. Zero values take the defaults.
type PruneConfig struct {
	// Retention is how long finished deliveries and old events are kept.
	// 0 keeps everything: the pruner does nothing.
	Retention time.Duration
	// BatchSize bounds the rows of one transaction: deliveries (with their
	// attempts) or events. Default DefaultPruneBatch.
	BatchSize int
	// Pause is the rest between two batches. Default 0: as long as the
	// batch took (delivery.PrunePause).
	Pause time.Duration
	// MaxRun bounds one run; the job carries on a second later from where
	// the run stopped. Default DefaultPruneMaxRun.
	MaxRun time.Duration
	// Registerer receives herald_pruned_rows_total; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock the retention is measured on. Default time.Now.
	Now func() time.Time
	// Logger gets one line per run that pruned something. Default
	// slog.Default().
	Logger *slog.Logger
}

// PruneCounts are the rows a batch or a run removed, per table.
type PruneCounts struct {
	Events, Deliveries, Attempts int64
}

// Total is the rows removed from all tables.
func (c PruneCounts) Total() int64 { return c.Events + c.Deliveries + c.Attempts }

func (c *PruneCounts) add(o PruneCounts) {
	c.Events += o.Events
	c.Deliveries += o.Deliveries
	c.Attempts += o.Attempts
}

// Pruner removes finished deliveries, their attempts and old events in
// small batches, each its own short transaction, resting between them so
// that deliveries sharing the database are not slowed. It never touches a
// pending delivery (held or not), nor any delivery of an event that still
// has a pending one, nor a row locked by someone else (a redrive, say: it
// is left for the next run); an event goes only once all its deliveries
// have.
type Pruner struct {
	pool   *pgxpool.Pool
	cfg    PruneConfig
	pruned *prometheus.CounterVec

	// mu guards resume, where a run that used up MaxRun stopped, so that
	// the next run does not walk again over rows it cannot remove.
	mu     sync.Mutex
	resume *pruneCursor
}

// NewPruner returns a Pruner on pool.
func NewPruner(pool *pgxpool.Pool, cfg PruneConfig) *Pruner {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultPruneBatch
	}
	if cfg.MaxRun <= 0 {
		cfg.MaxRun = DefaultPruneMaxRun
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Pruner{pool: pool, cfg: cfg, pruned: counterVec("herald_pruned_rows_total",
		"Rows removed by the retention pruner, by table (events, deliveries, delivery_attempts).",
		"table", "events", "deliveries", "delivery_attempts")}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(p.pruned)
	}
	return p
}

// pruneCursor is where a walk over the prunable tables is: the finished
// statuses one after the other, then the events, each in (created_at, id)
// order.
type pruneCursor struct {
	// step indexes delivery.FinishedStatuses; len(FinishedStatuses) is the
	// events, and one more is the end.
	step    int
	afterAt time.Time
	afterID string
}

func (c *pruneCursor) done() bool { return c.step > len(delivery.FinishedStatuses) }

// next moves to the next table or status once a page came back short.
func (c *pruneCursor) next() { *c = pruneCursor{step: c.step + 1} }

// Run prunes until nothing more can go, or MaxRun has passed: then more is
// true and the next Run carries on from there.
func (p *Pruner) Run(ctx context.Context) (_ PruneCounts, more bool, _ error) {
	var total PruneCounts
	if p.cfg.Retention == 0 {
		return total, false, nil
	}
	started := time.Now()
	cutoff := p.cfg.Now().Add(-p.cfg.Retention)
	p.mu.Lock()
	cur := pruneCursor{}
	if p.resume != nil {
		cur = *p.resume
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.resume = nil
		if more {
			p.resume = &cur
		}
		if total.Total() > 0 {
			p.cfg.Logger.Info("pruned finished deliveries and events", "deliveries", total.Deliveries,
				"attempts", total.Attempts, "events", total.Events, "retention", p.cfg.Retention, "took", time.Since(started).Round(time.Millisecond))
		}
	}()
	for !cur.done() {
		batchStart := time.Now()
		n, err := p.batch(ctx, &cur, cutoff)
		total.add(n)
		if err != nil {
			return total, false, err
		}
		if cur.done() {
			break
		}
		if time.Since(started) >= p.cfg.MaxRun {
			return total, true, nil
		}
		pause := time.NewTimer(delivery.PrunePause(time.Since(batchStart), p.cfg.Pause))
		select {
		case <-ctx.Done():
			pause.Stop()
			return total, true, ctx.Err()
		case <-pause.C:
		}
	}
	return total, false, nil
}

// batch removes what it can of the next page of at most BatchSize rows at
// cur, in one transaction, and advances cur.
func (p *Pruner) batch(ctx context.Context, cur *pruneCursor, cutoff time.Time) (PruneCounts, error) {
	var n PruneCounts
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var err error
		if cur.step < len(delivery.FinishedStatuses) {
			n, err = p.deliveriesBatch(ctx, tx, cur, cutoff)
		} else {
			n, err = p.eventsBatch(ctx, tx, cur, cutoff)
		}
		return err
	})
	if err != nil {
		return PruneCounts{}, err
	}
	p.pruned.WithLabelValues("events").Add(float64(n.Events))
	p.pruned.WithLabelValues("deliveries").Add(float64(n.Deliveries))
	p.pruned.WithLabelValues("delivery_attempts").Add(float64(n.Attempts))
	return n, nil
}

// deliveriesBatch reads the next page of deliveries of one finished status
// created before the cutoff, and locks those that may go: finished before
// the cutoff too (a redrive finishes a delivery again) and with no pending
// sibling. Locked rows are skipped. The succeeded ones are read from
// deliveries_created, where nearly every old delivery is one; the others
// from deliveries_rare_created (see StatusBranches).
func (p *Pruner) deliveriesBatch(ctx context.Context, tx pgx.Tx, cur *pruneCursor, cutoff time.Time) (PruneCounts, error) {
	status := delivery.FinishedStatuses[cur.step]
	where := StatusBranches(status)[0]
	doomed, err := p.page(ctx, tx, cur, `
		WITH page AS (
			SELECT id, created_at FROM deliveries d
			WHERE `+where+` AND created_at < $1 AND (created_at, id) > ($2, $3)
			ORDER BY created_at, id LIMIT $4),
		doomed AS (
			SELECT d.id FROM deliveries d JOIN page USING (id)
			WHERE `+where+` AND coalesce(d.completed_at, d.created_at) < $1
				AND NOT EXISTS (SELECT 1 FROM deliveries s WHERE s.event_id = d.event_id AND s.status = $5)
			FOR UPDATE OF d SKIP LOCKED)
		SELECT page.id, page.created_at, doomed.id IS NOT NULL FROM page LEFT JOIN doomed USING (id)
		ORDER BY page.created_at, page.id`,
		cutoff, cur.afterAt, cur.afterID, p.cfg.BatchSize, delivery.StatusPending)
	if err != nil || len(doomed) == 0 {
		return PruneCounts{}, err
	}
	var n PruneCounts
	tag, err := tx.Exec(ctx, `DELETE FROM delivery_attempts WHERE delivery_id = ANY($1)`, doomed)
	if err != nil {
		return n, fmt.Errorf("prune attempts: %w", err)
	}
	n.Attempts = tag.RowsAffected()
	if tag, err = tx.Exec(ctx, `DELETE FROM deliveries WHERE id = ANY($1)`, doomed); err != nil {
		return n, fmt.Errorf("prune deliveries: %w", err)
	}
	n.Deliveries = tag.RowsAffected()
	return n, nil
}

// eventsBatch reads the next page of events created before the cutoff,
// through events_retention, and removes those without a delivery. The
// index is on created_at in UTC, an expression no other query uses, so that
// a merchant's event list never picks it (see migration 00010): this query
// names the same expression.
func (p *Pruner) eventsBatch(ctx context.Context, tx pgx.Tx, cur *pruneCursor, cutoff time.Time) (PruneCounts, error) {
	doomed, err := p.page(ctx, tx, cur, `
		WITH page AS (
			SELECT id, created_at FROM events
			WHERE (created_at AT TIME ZONE 'UTC') < ($1::timestamptz AT TIME ZONE 'UTC')
				AND ((created_at AT TIME ZONE 'UTC'), id) > (($2::timestamptz AT TIME ZONE 'UTC'), $3)
			ORDER BY (created_at AT TIME ZONE 'UTC'), id LIMIT $4),
		doomed AS (
			SELECT e.id FROM events e JOIN page USING (id)
			WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
			FOR UPDATE OF e SKIP LOCKED)
		SELECT page.id, page.created_at, doomed.id IS NOT NULL FROM page LEFT JOIN doomed USING (id)
		ORDER BY page.created_at, page.id`,
		cutoff, cur.afterAt, cur.afterID, p.cfg.BatchSize)
	if err != nil || len(doomed) == 0 {
		return PruneCounts{}, err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM events WHERE id = ANY($1)`, doomed)
	if err != nil {
		return PruneCounts{}, fmt.Errorf("prune events: %w", err)
	}
	return PruneCounts{Events: tag.RowsAffected()}, nil
}

// page runs a page query returning (id, created_at, doomed) rows, advances
// cur past the page (to the next table when the page is short) and returns
// the doomed ids.
func (p *Pruner) page(ctx context.Context, tx pgx.Tx, cur *pruneCursor, sql string, args ...any) ([]string, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("prune: read page: %w", err)
	}
	defer rows.Close()
	var doomed []string
	seen := 0
	for rows.Next() {
		var rowID string
		var at time.Time
		var gone bool
		if err := rows.Scan(&rowID, &at, &gone); err != nil {
			return nil, fmt.Errorf("prune: read page: %w", err)
		}
		seen++
		cur.afterAt, cur.afterID = at, rowID
		if gone {
			doomed = append(doomed, rowID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("prune: read page: %w", err)
	}
	if seen < p.cfg.BatchSize {
		cur.next()
	}
	return doomed, nil
}

// PruneWorker works PruneArgs.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	pruner *Pruner
}

// NewPruneWorker returns the worker running pruner.
func NewPruneWorker(pruner *Pruner) *PruneWorker { return &PruneWorker{pruner: pruner} }

// Work implements river.Worker. A run that used up its time snoozes the job
// (no attempt spent) to carry on a second later, so a large backlog is
// worked through steadily without any run outliving River's job timeout.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	_, more, err := w.pruner.Run(ctx)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if more {
		return river.JobSnooze(pruneResumeAfter)
	}
	return nil
}
