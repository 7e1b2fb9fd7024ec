package deliverypg

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/webhook"
)

// retention is what the prune tests keep: rows "old" are well past it,
// rows "recent" well within.
const retention = 30 * 24 * time.Hour

var (
	old    = time.Now().Add(-40 * 24 * time.Hour)
	recent = time.Now().Add(-time.Hour)
)

// seed writes rows with chosen timestamps straight into the tables, as
// months of traffic would have left them.
type seed struct {
	t        *testing.T
	pool     *pgxpool.Pool
	merchant string
}

func newSeed(t *testing.T) *seed {
	t.Helper()
	s := &seed{t: t, pool: pgtest.NewPool(t), merchant: id.New("acct")}
	s.exec(`INSERT INTO merchants (id, name) VALUES ($1, 'Retention test')`, s.merchant)
	return s
}

func (s *seed) exec(sql string, args ...any) {
	s.t.Helper()
	_, err := s.pool.Exec(context.Background(), sql, args...)
	require.NoError(s.t, err)
}

// endpoint adds an endpoint (its secret is never opened by these tests).
func (s *seed) endpoint() string {
	s.t.Helper()
	e := id.New("we")
	s.exec(`INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, secret_sealed)
		VALUES ($1, $2, 'https://shop.test/hooks', '{*}', 'sealed')`, e, s.merchant)
	return e
}

func (s *seed) event(created time.Time) string {
	s.t.Helper()
	e := id.New("evt")
	s.exec(`INSERT INTO events (id, merchant_id, type, created_at, body) VALUES ($1, $2, 'charge.succeeded', $3, '{}')`,
		e, s.merchant, created)
	return e
}

// delivery adds a delivery of event to endpoint with attempts attempt
// rows; completed is nil for a pending one.
func (s *seed) delivery(event, endpoint string, status delivery.Status, held bool, created time.Time, completed *time.Time, attempts int) string {
	s.t.Helper()
	d := id.New("dlv")
	s.exec(`INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, held, attempts, created_at, completed_at)
		VALUES ($1, $2, $3, $4, 'charge.succeeded', $5, $6, $7, $8, $9)`, d, s.merchant, event, endpoint, status, held, attempts, created, completed)
	s.exec(`INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us, request_headers, response_status)
		SELECT 'att_' || $1 || '_' || n, $1, n, 'initial', $2, 1000, '{}', 200 FROM generate_series(1, $3) n`, d, created, attempts)
	return d
}

// finished adds a delivery finished at completed, on a new event created
// with it.
func (s *seed) finished(endpoint string, status delivery.Status, at time.Time, attempts int) (eventID, deliveryID string) {
	s.t.Helper()
	eventID = s.event(at)
	return eventID, s.delivery(eventID, endpoint, status, false, at, &at, attempts)
}

// bulk adds n old succeeded deliveries, each on its own event with one
// attempt, in one statement.
func (s *seed) bulk(endpoint string, n int) {
	s.t.Helper()
	s.exec(`WITH ev AS (
			INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_bulk' || g || '_' || $3, $1, 'charge.succeeded', $4::timestamptz + g * interval '1 ms', '{}'
			FROM generate_series(1, $5) g RETURNING id, created_at),
		d AS (
			INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, attempts, created_at, completed_at)
			SELECT 'dlv' || substr(ev.id, 4), $1, ev.id, $2, 'charge.succeeded', 'succeeded', 1, ev.created_at, ev.created_at FROM ev
			RETURNING id, created_at)
		INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us, request_headers, response_status)
		SELECT 'att' || substr(d.id, 4), d.id, 1, 'initial', d.created_at, 1000, '{}', 200 FROM d`,
		s.merchant, endpoint, id.Random(8), old, n)
}

func (s *seed) exists(table, rowID string) bool {
	s.t.Helper()
	var ok bool
	require.NoError(s.t, s.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM `+table+` WHERE id = $1)`, rowID).Scan(&ok))
	return ok
}

func (s *seed) count(table string) int {
	s.t.Helper()
	var n int
	require.NoError(s.t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// Finished deliveries past the retention go with their attempts, and so
// do old events once none of their deliveries is left; everything still
// needed stays.
func TestPruneRemovesOnlyWhatIsFinishedAndOld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSeed(t)
	ep, other := s.endpoint(), s.endpoint()

	type row struct {
		table, id string
	}
	var gone, kept []row
	// Finished long ago, in every finished status: gone, attempts and event too.
	for _, st := range delivery.FinishedStatuses {
		ev, d := s.finished(ep, st, old, 2)
		gone = append(gone, row{"deliveries", d}, row{"events", ev})
	}
	// An old event nobody subscribed to: gone. A recent one: kept.
	gone = append(gone, row{"events", s.event(old)})
	kept = append(kept, row{"events", s.event(recent)})
	// Finished recently: kept.
	ev, d := s.finished(ep, delivery.StatusSucceeded, recent, 1)
	kept = append(kept, row{"deliveries", d}, row{"events", ev})
	// Created long ago but redriven and finished again recently: kept.
	ev = s.event(old)
	kept = append(kept, row{"deliveries", s.delivery(ev, ep, delivery.StatusFailed, false, old, &recent, 3)}, row{"events", ev})
	// Pending for weeks, on its way or held by a paused endpoint: kept.
	for _, held := range []bool{false, true} {
		ev = s.event(old)
		kept = append(kept, row{"deliveries", s.delivery(ev, ep, delivery.StatusPending, held, old, nil, 1)}, row{"events", ev})
	}
	// An old finished delivery whose event is still pending elsewhere:
	// kept, with the event.
	ev = s.event(old)
	kept = append(kept, row{"deliveries", s.delivery(ev, ep, delivery.StatusSucceeded, false, old, &old, 1)},
		row{"deliveries", s.delivery(ev, other, delivery.StatusPending, true, old, nil, 0)}, row{"events", ev})
	// An old event with one delivery past the retention and one not: the
	// old delivery goes, the event stays for the other.
	ev = s.event(old)
	gone = append(gone, row{"deliveries", s.delivery(ev, ep, delivery.StatusSucceeded, false, old, &old, 1)})
	kept = append(kept, row{"deliveries", s.delivery(ev, other, delivery.StatusSucceeded, false, old, &recent, 2)}, row{"events", ev})
	attemptsBefore := s.count("delivery_attempts")

	reg := prometheus.NewRegistry()
	p := NewPruner(s.pool, PruneConfig{Retention: retention, Registerer: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	n, more, err := p.Run(ctx)
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, PruneCounts{Events: 5, Deliveries: 5, Attempts: 9}, n)
	for _, r := range gone {
		require.False(t, s.exists(r.table, r.id), "%s %s should be pruned", r.table, r.id)
	}
	for _, r := range kept {
		require.True(t, s.exists(r.table, r.id), "%s %s should be kept", r.table, r.id)
	}
	require.Equal(t, attemptsBefore-9, s.count("delivery_attempts"))
	var orphans int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM delivery_attempts a
		WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)`).Scan(&orphans))
	require.Zero(t, orphans)

	for table, want := range map[string]float64{"events": 5, "deliveries": 5, "delivery_attempts": 9} {
		require.Equal(t, want, testutil.ToFloat64(p.pruned.WithLabelValues(table)), table)
	}
	count, err := testutil.GatherAndCount(reg, "herald_pruned_rows_total")
	require.NoError(t, err)
	require.Equal(t, 3, count, "one series per table")

	n, _, err = p.Run(ctx)
	require.NoError(t, err)
	require.Zero(t, n.Total(), "nothing more to prune")

	// Keeping everything prunes nothing.
	s.finished(ep, delivery.StatusSucceeded, old, 1)
	n, _, err = NewPruner(s.pool, PruneConfig{}).Run(ctx)
	require.NoError(t, err)
	require.Zero(t, n.Total())
}

// Each batch is its own transaction of at most BatchSize deliveries (with
// their attempts) or events, committed before the next; a run that uses up
// its time stops, and the next carries on where it stopped.
func TestPruneBatchesAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSeed(t)
	ep, other := s.endpoint(), s.endpoint()
	for range 25 {
		s.finished(ep, delivery.StatusSucceeded, old, 2)
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := NewPruner(s.pool, PruneConfig{Retention: retention, BatchSize: 10, Logger: quiet})
	cur := pruneCursor{}
	cutoff := time.Now().Add(-retention)
	var batches []PruneCounts
	for !cur.done() {
		n, err := p.batch(ctx, &cur, cutoff)
		require.NoError(t, err)
		batches = append(batches, n)
		if len(batches) == 1 {
			require.Equal(t, 15, s.count("deliveries"), "the first batch is committed on its own")
			require.Equal(t, 30, s.count("delivery_attempts"))
		}
	}
	require.Equal(t, []PruneCounts{
		{Deliveries: 10, Attempts: 20}, {Deliveries: 10, Attempts: 20}, {Deliveries: 5, Attempts: 10},
		{}, {}, {}, // failed, canceled, skipped: nothing
		{Events: 10}, {Events: 10}, {Events: 5},
	}, batches)

	// Ten deliveries that must stay come first in the walk, then ten that
	// may go. With no time to spare, each run does one batch: the second
	// starts where the first stopped instead of reading the same ten again.
	for range 10 {
		ev := s.event(old.Add(-time.Hour))
		s.delivery(ev, ep, delivery.StatusSucceeded, false, old.Add(-time.Hour), &old, 1)
		s.delivery(ev, other, delivery.StatusPending, false, old.Add(-time.Hour), nil, 1)
	}
	for range 10 {
		s.finished(ep, delivery.StatusSucceeded, old, 1)
	}
	p = NewPruner(s.pool, PruneConfig{Retention: retention, BatchSize: 10, MaxRun: time.Nanosecond, Logger: quiet})
	n, more, err := p.Run(ctx)
	require.NoError(t, err)
	require.True(t, more)
	require.Zero(t, n.Total(), "the first page is all pending siblings")
	n, more, err = p.Run(ctx)
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, PruneCounts{Deliveries: 10, Attempts: 10}, n)
}

// The prune job is a unique periodic job: with two worker processes on one
// database and a run far longer than the interval, there is only ever one
// run at a time, and together they prune everything once.
func TestPruneJobRunsOneAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSeed(t)
	ep := s.endpoint()
	s.bulk(ep, 40)

	regs := make([]*prometheus.Registry, 2)
	for i := range regs {
		regs[i] = prometheus.NewRegistry()
		// One row a batch and a rest after each: a run lasts about a
		// second, ten intervals.
		pruner := NewPruner(s.pool, PruneConfig{Retention: retention, BatchSize: 1, Pause: 10 * time.Millisecond,
			Registerer: regs[i], Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		workers := river.NewWorkers()
		river.AddWorker(workers, NewPruneWorker(pruner))
		client, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{
			Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
			Workers:           workers,
			Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
			PeriodicJobs:      []*river.PeriodicJob{PrunePeriodicJob(100 * time.Millisecond)},
			FetchCooldown:     10 * time.Millisecond,
			FetchPollInterval: 20 * time.Millisecond,
		})
		require.NoError(t, err)
		require.NoError(t, client.Start(ctx))
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, client.Stop(stopCtx))
		})
	}
	waitFor(t, 30*time.Second, "everything pruned", func() bool {
		return s.count("events")+s.count("deliveries")+s.count("delivery_attempts") == 0
	})

	pruned := 0.0
	for _, reg := range regs {
		families, err := reg.Gather()
		require.NoError(t, err)
		for _, f := range families {
			for _, m := range f.GetMetric() {
				pruned += m.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, 120.0, pruned, "every row pruned once")

	rows, err := s.pool.Query(ctx, `SELECT attempted_at, coalesce(finalized_at, now()) FROM river_job
		WHERE kind = 'herald.prune' AND attempted_at IS NOT NULL ORDER BY attempted_at`)
	require.NoError(t, err)
	type span struct{ From, To time.Time }
	spans, err := pgx.CollectRows(rows, pgx.RowToStructByPos[span])
	require.NoError(t, err)
	require.NotEmpty(t, spans)
	for i := 1; i < len(spans); i++ {
		require.False(t, spans[i].From.Before(spans[i-1].To), "prune runs %d and %d overlap: %v", i-1, i, spans)
	}
}

// Pruning a large backlog as fast as it can, beside live traffic to the
// same endpoint, fails no delivery and delays none into a retry.
func TestPruneBesideLiveDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	sk := newSink(t, nil)
	ep := b.endpoint(t, m, hookURL(sk), "*")
	s := &seed{t: t, pool: b.pool, merchant: m}
	s.bulk(ep.ID, 3000)

	p := NewPruner(b.pool, PruneConfig{Retention: retention, BatchSize: 50, Pause: time.Millisecond, MaxRun: time.Minute,
		Logger: slog.New(slog.NewTextHandler(b.logs, nil))})
	var (
		wg       sync.WaitGroup
		pruneErr error
		pruned   PruneCounts
	)
	const live = 100
	wg.Go(func() {
		for range live {
			b.publish(t, m, webhook.TypeChargeSucceeded)
		}
	})
	wg.Go(func() { pruned, _, pruneErr = p.Run(ctx) })
	wg.Wait()
	require.NoError(t, pruneErr)
	require.Equal(t, PruneCounts{Events: 3000, Deliveries: 3000, Attempts: 3000}, pruned)

	list := b.waitDeliveries(t, m, delivery.DeliveryFilter{Status: delivery.StatusSucceeded}, live)
	require.Len(t, list, live, "the live deliveries, and nothing old left")
	for _, d := range list {
		require.Equal(t, 1, d.Attempts, "delivered at the first attempt")
	}
	require.Len(t, sk.Requests(), live)
	require.Equal(t, live, s.count("deliveries"))
	require.Equal(t, live, s.count("delivery_attempts"))
	require.NotContains(t, b.logs.String(), "level=ERROR")
}
