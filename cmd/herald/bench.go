package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/bench"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/migrations"
	"github.com/heraldpay/herald/webhook"
)

// benchConfig is `herald bench`'s flags.
type benchConfig struct {
	DatabaseURL       string
	Events            int
	Rates             []int
	Duration          time.Duration
	Trials            int
	Endpoints         int
	Out               string
	Only              map[string]bool
	CPUProfile        string
	MaxWorkers        int
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
}

const benchSynopsis = `Usage: herald bench [flags]

Measures delivery throughput and latency against River's own ceiling on the
same database (make bench runs it on a throwaway PostgreSQL). Herald's
tables in that database are emptied between scenarios.`

func parseBenchConfig(args []string, getenv func(string) string) (benchConfig, error) {
	fs := newFlagSet("herald bench")
	c := benchConfig{}
	rates, only := "", ""
	fs.StringVar(&c.DatabaseURL, "database-url", "", "Postgres (its Herald tables are emptied between scenarios)")
	fs.IntVar(&c.Events, "events", 20000, "events per bulk scenario")
	fs.StringVar(&rates, "rates", "500,1000", "events per second of the steady scenarios")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each steady scenario")
	fs.IntVar(&c.Trials, "trials", 3, "runs of River's ceilings with the bulk drain, and of each steady scenario with River's, in turn; each row is the median run (by p99, or by rate)")
	fs.IntVar(&c.Endpoints, "endpoints", 20, "merchants, one endpoint each")
	fs.StringVar(&c.Out, "out", "bench-results.json", "where to write the JSON report")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run (river,bulk,steady,fairness,scaleout,prune); default all")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the bulk drain to this file")
	fs.IntVar(&c.MaxWorkers, "max-workers", 1000, "River MaxWorkers of every scenario")
	fs.DurationVar(&c.FetchCooldown, "fetch-cooldown", 10*time.Millisecond, "River FetchCooldown of every scenario")
	fs.DurationVar(&c.FetchPollInterval, "fetch-poll-interval", 50*time.Millisecond, "River FetchPollInterval of every scenario")
	if err := parseFlags(fs, args, benchSynopsis, databaseEnv); err != nil {
		return c, err
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = getenv("DATABASE_URL")
	}
	if c.DatabaseURL == "" {
		return c, errors.New("DATABASE_URL is required (make bench starts a throwaway PostgreSQL)")
	}
	for _, r := range strings.Split(rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n < 1 {
			return c, fmt.Errorf("invalid --rates %q", rates)
		}
		c.Rates = append(c.Rates, n)
	}
	if c.Events < 1 || c.Endpoints < 1 || c.Trials < 1 || c.Duration < time.Second {
		return c, errors.New("--events, --endpoints and --trials must be positive, --duration at least 1s")
	}
	if only != "" {
		c.Only = map[string]bool{}
		for _, s := range strings.Split(only, ",") {
			c.Only[strings.TrimSpace(s)] = true
		}
	}
	return c, nil
}

func (c benchConfig) runs(scenario string) bool { return c.Only == nil || c.Only[scenario] }

// benchRun holds what the scenarios share.
type benchRun struct {
	cfg       benchConfig
	pool      *pgxpool.Pool
	sink      *bench.Sink
	merchants []string
	// noisy is the fairness scenario's merchant with noisyEndpoints
	// endpoints that all time out; no other scenario sends it anything.
	noisy    string
	progress io.Writer
	// statements is set when pg_stat_statements is loaded: the cost rows
	// then include Postgres's statement time.
	statements bool
	// walInspect is set when pg_walinspect is there: costs then split
	// their WAL by table.
	walInspect bool
	// noCheckpoint is set once the role turned out not to be allowed to
	// CHECKPOINT (see checkpoint).
	noCheckpoint bool
	report       bench.Report
	padding      string
}

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseBenchConfig(args, getenv)
	if err != nil {
		return usageError{err}
	}
	tuneGC(getenv)
	// The bench's own pool plays the API processes committing payments:
	// enough connections that the publishers are never what limits a rate.
	poolCfg, err := poolConfig(cfg.DatabaseURL)
	if err != nil {
		return usageError{fmt.Errorf("invalid DATABASE_URL: %w", err)}
	}
	poolCfg.MaxConns = 48
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return fmt.Errorf("connect to Postgres: %w", err)
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		return err
	}
	sink, err := bench.NewSink(2 * time.Second)
	if err != nil {
		return err
	}
	defer sink.Close()
	b := &benchRun{cfg: cfg, pool: pool, sink: sink, progress: stderr, padding: strings.Repeat("x", 900)}
	b.report = bench.Report{Machine: machine(ctx, pool), Started: time.Now().UTC(), Settings: map[string]string{
		"max_workers": strconv.Itoa(cfg.MaxWorkers), "fetch_cooldown": cfg.FetchCooldown.String(),
		"fetch_poll_interval": cfg.FetchPollInterval.String(), "endpoints": strconv.Itoa(cfg.Endpoints),
		"event_body_bytes": "≈1100", "fsync": pgSetting(ctx, pool, "fsync"), "synchronous_commit": pgSetting(ctx, pool, "synchronous_commit"),
	}}
	if err := b.setup(ctx); err != nil {
		return err
	}
	if b.statements = b.enableStatements(ctx); !b.statements {
		b.logf("pg_stat_statements is not loaded: costs leave out statement time (make bench loads it)")
	}
	b.report.Settings["pg_stat_statements"] = strconv.FormatBool(b.statements)
	b.walInspect = b.enableWALInspect(ctx)

	steps := []struct {
		name string
		on   bool
		run  func(context.Context) error
	}{
		{"river and bulk", cfg.runs("river") || cfg.runs("bulk"), func(ctx context.Context) error { return b.ceilingsAndDrain(ctx) }},
		{"steady", cfg.runs("steady"), func(ctx context.Context) error {
			for _, rate := range cfg.Rates {
				if err := b.steady(ctx, rate); err != nil {
					return err
				}
			}
			return nil
		}},
		{"fairness", cfg.runs("fairness"), func(ctx context.Context) error { return b.fairness(ctx) }},
		{"scaleout", cfg.runs("scaleout"), func(ctx context.Context) error { return b.scaleOut(ctx) }},
		{"prune", cfg.runs("prune"), func(ctx context.Context) error { return b.pruneSteady(ctx) }},
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		b.logf("%s…", s.name)
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	fmt.Fprintf(stdout, "Herald bench on %s (%s)\n\n", b.report.Machine, settingsLine(b.report.Settings))
	if err := b.report.WriteTable(stdout); err != nil {
		return err
	}
	if err := b.report.WriteJSON(cfg.Out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwritten to %s\n", cfg.Out)
	return nil
}

func settingsLine(s map[string]string) string {
	return fmt.Sprintf("River MaxWorkers %s, FetchCooldown %s, FetchPollInterval %s; %s endpoints; Postgres fsync=%s synchronous_commit=%s",
		s["max_workers"], s["fetch_cooldown"], s["fetch_poll_interval"], s["endpoints"], s["fsync"], s["synchronous_commit"])
}

func machine(ctx context.Context, pool *pgxpool.Pool) string {
	var version string
	_ = pool.QueryRow(ctx, `SHOW server_version`).Scan(&version)
	return fmt.Sprintf("%d CPUs %s/%s, %s, PostgreSQL %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), version)
}

func pgSetting(ctx context.Context, pool *pgxpool.Pool, name string) string {
	var v string
	if err := pool.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
		return "?"
	}
	return v
}

func (b *benchRun) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench: "+format+"\n", args...)
}

// setup creates one merchant per endpoint, each endpoint on the sink.
func (b *benchRun) setup(ctx context.Context) error {
	srv, err := b.server(ctx, []string{roleAPI}, nil)
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck // a bench helper
	accounts := accountpg.NewStore(b.pool)
	for i := range b.cfg.Endpoints {
		m, _, err := accounts.Create(ctx, account.Merchant{Name: fmt.Sprintf("Bench merchant %d", i)})
		if err != nil {
			return err
		}
		path := "/fast/"
		if i%10 == 9 {
			path = "/slow/" // the fairness scenario's timing-out tenth; others skip these merchants
		}
		url := b.sink.URL + path + strconv.Itoa(i)
		if _, err := srv.Delivery.CreateEndpoint(ctx, m.ID, delivery.EndpointParams{URL: &url, EnabledEvents: []string{"*"}}); err != nil {
			return err
		}
		b.merchants = append(b.merchants, m.ID)
	}
	noisy, _, err := accounts.Create(ctx, account.Merchant{Name: "Bench noisy merchant"})
	if err != nil {
		return err
	}
	for i := range noisyEndpoints {
		url := b.sink.URL + "/slow/noisy-" + strconv.Itoa(i)
		if _, err := srv.Delivery.CreateEndpoint(ctx, noisy.ID, delivery.EndpointParams{URL: &url, EnabledEvents: []string{"*"}}); err != nil {
			return err
		}
	}
	b.noisy = noisy.ID
	return nil
}

// noisyEndpoints is how many timing-out endpoints the fairness scenario's
// noisy merchant has: enough to hold every worker without the
// per-merchant in-flight cap (50 × 10 per endpoint).
const noisyEndpoints = 50

// healthy returns the merchants whose endpoint answers at once.
func (b *benchRun) healthy() []string {
	var out []string
	for i, m := range b.merchants {
		if i%10 != 9 {
			out = append(out, m)
		}
	}
	return out
}

// server starts an in-process Herald with the bench's River settings.
func (b *benchRun) server(ctx context.Context, roles []string, mutate func(*Config)) (*Server, error) {
	cfg := Config{
		DatabaseURL: b.cfg.DatabaseURL, Addr: "127.0.0.1:0", Env: envDev, Roles: roles, RateLimit: 1000,
		ExpiryInterval: time.Hour, ShutdownTimeout: 30 * time.Second,
		AllowPrivateEndpoints: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		DeliveryTimeout:       2 * time.Second, RetrySchedule: delivery.DefaultSchedule, InflightPerEndpoint: 1000,
		InflightPerMerchant: 1000, SweepInterval: time.Minute,
		BreakerOpenFor: 30 * time.Second, DisableEndpointAfter: 120 * time.Hour,
		DeliveryWorkers: b.cfg.MaxWorkers, FetchCooldown: b.cfg.FetchCooldown, FetchPollInterval: b.cfg.FetchPollInterval,
		RescueAfter: time.Minute,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := NewServer(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	return srv, nil
}

// reset empties the queue and the delivery tables between scenarios.
func (b *benchRun) reset(ctx context.Context) error {
	b.sink.Reset()
	if _, err := b.pool.Exec(ctx, `TRUNCATE river_job, delivery_attempts, deliveries, redrives, events CASCADE`); err != nil {
		return err
	}
	return b.checkpoint(ctx)
}

// checkpoint starts the next scenario at the beginning of a checkpoint
// cycle. The bench writes enough WAL that Postgres checkpoints about every
// half minute (max_wal_size), and a checkpoint that begins inside a
// scenario writes out what the scenarios before it dirtied while this one
// commits and waits on the same disk: which scenario it lands in is
// chance, and it set the tails of whichever did (the prune scenario's
// baseline p99 was 15 ms in one full run, 6.5 s in a later one with the
// seeding's checkpoint inside it). Every scenario,
// River's and Herald's alike, now begins with a checkpoint done. A role
// that may not checkpoint (neither superuser nor pg_checkpoint) runs the
// scenarios without, said once.
func (b *benchRun) checkpoint(ctx context.Context) error {
	if b.noCheckpoint {
		return nil
	}
	_, err := b.pool.Exec(ctx, benchTag+`CHECKPOINT`)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "42501" { // insufficient_privilege
		b.noCheckpoint = true
		b.logf("this role may not CHECKPOINT: scenarios run without a checkpoint before each")
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// newEvent builds an event of about 1 KB.
func (b *benchRun) newEvent(now time.Time) webhook.Event {
	ev, _ := webhook.NewEvent(id.New("evt"), webhook.TypeCheckoutSessionCompleted, now.Unix(),
		map[string]string{"id": id.New("cs"), "object": "checkout.session", "payment_status": "paid", "padding": b.padding})
	return ev
}

// publishBulk commits n events across merchants, 500 per transaction.
func (b *benchRun) publishBulk(ctx context.Context, srv *Server, n int, merchants []string) error {
	for done, batch := 0, 0; done < n; batch++ {
		size := min(500, n-done)
		events := make([]webhook.Event, size)
		for i := range events {
			events[i] = b.newEvent(time.Now())
		}
		m := merchants[batch%len(merchants)]
		if err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return srv.Delivery.PublishTx(ctx, tx, m, events...) }); err != nil {
			return err
		}
		done += size
	}
	return nil
}

// waitDelivered waits until n deliveries succeeded (their attempt rows
// recorded), printing progress, and returns when the last one did. It
// watches the sink, in memory, until n webhooks arrived, and only then asks
// Postgres: counting the succeeded deliveries scans the table (status is in
// no index), and doing that every few milliseconds during a drain took a
// tenth of the box's CPU from the workers being measured. River's ceilings
// are watched in memory too.
func (b *benchRun) waitDelivered(ctx context.Context, what string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		next := time.Now().Add(time.Second)
		if next.After(deadline) {
			next = deadline
		}
		if b.sink.WaitArrivals(n, next) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: only %d of %d arrived after %s", what, b.sink.Arrivals(), n, timeout)
		}
		b.logf("%s: %d/%d arrived", what, b.sink.Arrivals(), n)
	}
	for {
		var done int
		err := b.pool.QueryRow(ctx, benchTag+`SELECT count(*) FROM deliveries WHERE status = $1`, delivery.StatusSucceeded).Scan(&done)
		if err != nil {
			return err
		}
		if done >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: only %d of %d delivered after %s", what, done, n, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ceilingsAndDrain measures River's ceilings and Herald's bulk drain (each
// when asked for), in turn, cfg.Trials times, and reports each one's median
// run by rate: like the steady scenarios (see steady), the drain and the
// ceiling it is compared with then see the same minutes of the machine.
func (b *benchRun) ceilingsAndDrain(ctx context.Context) error {
	var noops, posts, drains []bench.Row
	for trial := 1; trial <= b.cfg.Trials; trial++ {
		if b.cfg.runs("river") {
			noop, post, err := b.riverCeilings(ctx)
			if err != nil {
				return err
			}
			noops, posts = append(noops, noop), append(posts, post)
		}
		if b.cfg.runs("bulk") {
			drain, err := b.bulkDrain(ctx, trial == 1)
			if err != nil {
				return err
			}
			drains = append(drains, drain)
		}
	}
	for _, runs := range [][]bench.Row{noops, posts} {
		if len(runs) > 0 {
			b.report.Rows = append(b.report.Rows, bench.MedianTrial(runs, bench.ByRate))
		}
	}
	if len(drains) > 0 {
		drain := bench.MedianTrial(drains, bench.ByRate)
		drain.CostRatio = drain.Cost.Over(b.riverCost())
		if c := b.find("river http post"); c != nil {
			drain.Ratio = drain.PerSecond / c.PerSecond
		}
		b.report.Rows = append(b.report.Rows, drain)
	}
	return nil
}

// bulkDrain is one run of the bulk drain: events already committed, then
// the workers start; deliveries per second until every attempt row is
// recorded. The first run is the one --cpuprofile profiles.
func (b *benchRun) bulkDrain(ctx context.Context, profile bool) (bench.Row, error) {
	if err := b.reset(ctx); err != nil {
		return bench.Row{}, err
	}
	pub, err := b.server(ctx, []string{roleAPI}, nil)
	if err != nil {
		return bench.Row{}, err
	}
	from, err := b.snapshot(ctx)
	if err != nil {
		return bench.Row{}, err
	}
	b.logf("bulk: committing %d events", b.cfg.Events)
	err = b.publishBulk(ctx, pub, b.cfg.Events, b.healthy())
	_ = pub.Shutdown(context.Background())
	if err != nil {
		return bench.Row{}, err
	}
	if profile && b.cfg.CPUProfile != "" {
		f, err := os.Create(b.cfg.CPUProfile)
		if err != nil {
			return bench.Row{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return bench.Row{}, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	srv, err := b.server(ctx, []string{roleWorker}, nil)
	if err != nil {
		return bench.Row{}, err
	}
	err = b.waitDelivered(ctx, "bulk", b.cfg.Events, 3*time.Minute)
	elapsed := time.Since(start)
	_ = srv.Shutdown(context.Background())
	if err != nil {
		return bench.Row{}, err
	}
	row := bench.Row{Scenario: "bulk drain", Events: b.cfg.Events, PerSecond: float64(b.cfg.Events) / elapsed.Seconds(), Ceiling: "river http post"}
	if row.Cost, err = b.cost(ctx, from, b.cfg.Events); err != nil {
		return bench.Row{}, err
	}
	total, dups, overlapped := b.sink.Counts()
	row.Note = fmt.Sprintf("%d requests, %d ids received twice, %d concurrent duplicates; attempts recorded in Postgres", total, dups, overlapped)
	return row, nil
}

func (b *benchRun) find(scenario string) *bench.Row {
	for i := range b.report.Rows {
		if b.report.Rows[i].Scenario == scenario {
			return &b.report.Rows[i]
		}
	}
	return nil
}

// steady measures rate events a second: River's no-op jobs (the
// yardstick), then Herald's deliveries, in turn, cfg.Trials times, and
// reports each one's median run. This machine has slow minutes that come
// and go; taking turns puts both in the same minutes, and the median keeps
// one slow run from deciding the ratio.
func (b *benchRun) steady(ctx context.Context, rate int) error {
	var rivers, heralds []bench.Row
	for trial := 1; trial <= b.cfg.Trials; trial++ {
		r, err := b.riverSteady(ctx, rate, trial)
		if err != nil {
			return err
		}
		h, err := b.heraldSteady(ctx, rate, trial)
		if err != nil {
			return err
		}
		rivers, heralds = append(rivers, r), append(heralds, h)
	}
	river, herald := bench.MedianTrial(rivers, bench.ByP99), bench.MedianTrial(heralds, bench.ByP99)
	herald.Ceiling = river.Scenario
	herald.CostRatio = herald.Cost.Over(river.Cost)
	if river.P99 > 0 {
		herald.Ratio = float64(herald.P99) / float64(river.P99)
	}
	b.report.Rows = append(b.report.Rows, river, herald)
	return nil
}

// heraldSteady is one run of Herald's steady scenario: one event per
// transaction at rate with the workers running, commit → first request.
func (b *benchRun) heraldSteady(ctx context.Context, rate, trial int) (bench.Row, error) {
	if err := b.reset(ctx); err != nil {
		return bench.Row{}, err
	}
	b.logf("steady: Herald at %d events/s for %s (run %d of %d)", rate, b.cfg.Duration, trial, b.cfg.Trials)
	srv, err := b.server(ctx, []string{roleAPI, roleWorker}, nil)
	if err != nil {
		return bench.Row{}, err
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck // a bench helper
	merchants := b.healthy()
	from, err := b.snapshot(ctx)
	if err != nil {
		return bench.Row{}, err
	}
	commits, achieved, err := b.paced(ctx, rate, func(i int) (string, error) {
		ev := b.newEvent(time.Now())
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
			return srv.Delivery.PublishTx(ctx, tx, merchants[i%len(merchants)], ev)
		})
		return ev.ID, err
	})
	if err != nil {
		return bench.Row{}, err
	}
	if !b.sink.WaitArrivals(len(commits), time.Now().Add(time.Minute)) {
		return bench.Row{}, fmt.Errorf("steady %d/s: only %d of %d arrived", rate, b.sink.Arrivals(), len(commits))
	}
	// The warm-up's events count in the cost: every published event.
	published := len(commits) + rate
	if err := b.waitDelivered(ctx, fmt.Sprintf("steady %d/s", rate), published, time.Minute); err != nil {
		return bench.Row{}, err
	}
	cost, err := b.cost(ctx, from, published)
	if err != nil {
		return bench.Row{}, err
	}
	lags := b.lags(commits)
	return bench.Row{Scenario: fmt.Sprintf("steady %d/s", rate), Events: len(commits), PerSecond: achieved,
		P50: bench.Millis(lags.Percentile(50)), P95: bench.Millis(lags.Percentile(95)), P99: bench.Millis(lags.Percentile(99)),
		Cost: cost, Note: "commit of the event's transaction → first request at the endpoint; ratio is p99 over River's p99"}, nil
}

func (b *benchRun) lags(commits map[string]time.Time) bench.Latencies {
	lags := make(bench.Latencies, 0, len(commits))
	for msgID, committed := range commits {
		if at, ok := b.sink.First(msgID); ok {
			lags = append(lags, at.Sub(committed))
		}
	}
	return lags
}

// paced calls publish rate times a second for the configured duration,
// after a one-second warm-up whose calls are not returned, and returns each
// published id with its commit time, and the rate actually achieved.
// Publishers run concurrently so a slow commit does not slow the pace.
func (b *benchRun) paced(ctx context.Context, rate int, publish func(i int) (string, error)) (map[string]time.Time, float64, error) {
	var (
		mu      sync.Mutex
		commits = map[string]time.Time{}
		firstEr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 512)
	)
	warmup := rate
	total := warmup + int(float64(rate)*b.cfg.Duration.Seconds())
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	var measuredFrom time.Time
	for i := range total {
		if i == warmup {
			measuredFrom = time.Now()
		}
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			msgID, err := publish(i)
			at := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstEr == nil {
				firstEr = err
			}
			if i >= warmup {
				commits[msgID] = at
			}
		})
	}
	wg.Wait()
	achieved := float64(total-warmup) / time.Since(measuredFrom).Seconds()
	return commits, achieved, firstEr
}

// fairness: 10 % of endpoints time out (2 s, beyond a 1 s delivery
// timeout), and one more merchant has 50 endpoints that all time out and
// gets a twentieth of the events; the healthy ones' first-attempt lag must
// stay low.
func (b *benchRun) fairness(ctx context.Context) error {
	if err := b.reset(ctx); err != nil {
		return err
	}
	srv, err := b.server(ctx, []string{roleAPI, roleWorker}, func(c *Config) {
		c.DeliveryTimeout = time.Second
		c.RescueAfter = time.Minute
		c.InflightPerEndpoint = delivery.DefaultInflightPerEndpoint
		c.InflightPerMerchant = delivery.DefaultInflightPerMerchant
	})
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background()) //nolint:errcheck // a bench helper
	rate := 200
	healthy := map[string]bool{}
	for _, m := range b.healthy() {
		healthy[m] = true
	}
	var healthyIDs sync.Map
	commits, achieved, err := b.paced(ctx, rate, func(i int) (string, error) {
		m := b.merchants[i%len(b.merchants)]
		if i%20 == 5 {
			m = b.noisy
		}
		ev := b.newEvent(time.Now())
		if healthy[m] {
			healthyIDs.Store(ev.ID, true)
		}
		err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return srv.Delivery.PublishTx(ctx, tx, m, ev) })
		return ev.ID, err
	})
	if err != nil {
		return err
	}
	want := map[string]time.Time{}
	for msgID, at := range commits {
		if _, ok := healthyIDs.Load(msgID); ok {
			want[msgID] = at
		}
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && len(b.lags(want)) < len(want) {
		time.Sleep(50 * time.Millisecond)
	}
	lags := b.lags(want)
	b.report.Rows = append(b.report.Rows, bench.Row{Scenario: fmt.Sprintf("fairness %d/s", rate), Events: len(commits),
		PerSecond: achieved, P50: bench.Millis(lags.Percentile(50)),
		P95: bench.Millis(lags.Percentile(95)), P99: bench.Millis(lags.Percentile(99)),
		Note: fmt.Sprintf("10 %% of endpoints time out, and one merchant's %d endpoints all do (a twentieth of the events); "+
			"lag of the %d deliveries to healthy endpoints (target p99 < 250 ms)", noisyEndpoints, len(lags))})
	return nil
}

// scaleOut drains the bulk set with one, then two worker processes.
func (b *benchRun) scaleOut(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var oneProcess float64
	for _, processes := range []int{1, 2} {
		if err := b.reset(ctx); err != nil {
			return err
		}
		pub, err := b.server(ctx, []string{roleAPI}, nil)
		if err != nil {
			return err
		}
		err = b.publishBulk(ctx, pub, b.cfg.Events, b.healthy())
		_ = pub.Shutdown(context.Background())
		if err != nil {
			return err
		}
		start := time.Now()
		var cmds []*exec.Cmd
		for range processes {
			cmd, err := b.workerProcess(exe)
			if err != nil {
				return err
			}
			cmds = append(cmds, cmd)
		}
		err = b.waitDelivered(ctx, fmt.Sprintf("scale-out ×%d", processes), b.cfg.Events, 3*time.Minute)
		elapsed := time.Since(start)
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
		if err != nil {
			return err
		}
		total, dups, overlapped := b.sink.Counts()
		row := bench.Row{Scenario: fmt.Sprintf("scale-out %d process(es)", processes), Events: b.cfg.Events,
			PerSecond: float64(b.cfg.Events) / elapsed.Seconds(),
			Note:      fmt.Sprintf("%d requests, %d ids received twice, %d concurrent duplicates (process start included)", total, dups, overlapped)}
		if processes == 1 {
			oneProcess = row.PerSecond
		} else {
			row.Ceiling, row.Ratio = "scale-out 1 process(es)", row.PerSecond/oneProcess
		}
		if overlapped > 0 {
			return fmt.Errorf("a delivery was attempted twice at once by %d processes", processes)
		}
		b.report.Rows = append(b.report.Rows, row)
	}
	return nil
}

func (b *benchRun) workerProcess(exe string) (*exec.Cmd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(exe, "serve", "--roles", "worker")
	cmd.Env = append(os.Environ(), "HERALD_ENV=dev", "DATABASE_URL="+b.cfg.DatabaseURL, "HERALD_ADDR="+addr, "HERALD_MIGRATE=false",
		"HERALD_ALLOW_PRIVATE_ENDPOINTS=127.0.0.0/8", "HERALD_INFLIGHT_PER_ENDPOINT=1000",
		"HERALD_DELIVERY_WORKERS="+strconv.Itoa(b.cfg.MaxWorkers), "HERALD_FETCH_COOLDOWN="+b.cfg.FetchCooldown.String(),
		"HERALD_FETCH_POLL_INTERVAL="+b.cfg.FetchPollInterval.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// Ceiling scenarios: River itself, on the same database and settings.

type benchNoopArgs struct{}

func (benchNoopArgs) Kind() string { return "herald.bench_noop" }

type benchPostArgs struct{}

func (benchPostArgs) Kind() string { return "herald.bench_post" }

type benchNoopWorker struct {
	river.WorkerDefaults[benchNoopArgs]
	done    atomic.Int64
	mu      sync.Mutex
	started map[int64]time.Time
}

func (w *benchNoopWorker) Work(_ context.Context, job *river.Job[benchNoopArgs]) error {
	now := time.Now()
	w.mu.Lock()
	if w.started != nil {
		w.started[job.ID] = now
	}
	w.mu.Unlock()
	w.done.Add(1)
	return nil
}

type benchPostWorker struct {
	river.WorkerDefaults[benchPostArgs]
	url    string
	client *http.Client
	body   []byte
	done   atomic.Int64
}

func (w *benchPostWorker) Work(ctx context.Context, job *river.Job[benchPostArgs]) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(w.body))
	if err != nil {
		return err
	}
	req.Header.Set("webhook-id", strconv.FormatInt(job.ID, 10))
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	w.done.Add(1)
	return nil
}

func (b *benchRun) riverClient(workers *river.Workers) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers: workers, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: b.cfg.MaxWorkers}},
		FetchCooldown: b.cfg.FetchCooldown, FetchPollInterval: b.cfg.FetchPollInterval,
	})
}

// riverCeilings measures (A) no-op jobs and (B) jobs doing a bare HTTP POST
// to the sink, both already inserted when the client starts.
func (b *benchRun) riverCeilings(ctx context.Context) (noopRow, postRow bench.Row, _ error) {
	for _, kind := range []string{"river no-op", "river http post"} {
		if err := b.reset(ctx); err != nil {
			return noopRow, postRow, err
		}
		workers := river.NewWorkers()
		noop := &benchNoopWorker{}
		post := &benchPostWorker{url: b.sink.URL + "/fast/river", body: bytes.Repeat([]byte("x"), 1024),
			client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.cfg.MaxWorkers}}}
		river.AddWorker(workers, noop)
		river.AddWorker(workers, post)
		client, err := b.riverClient(workers)
		if err != nil {
			return noopRow, postRow, err
		}
		params := make([]river.InsertManyParams, b.cfg.Events)
		for i := range params {
			if kind == "river no-op" {
				params[i] = river.InsertManyParams{Args: benchNoopArgs{}}
			} else {
				params[i] = river.InsertManyParams{Args: benchPostArgs{}}
			}
		}
		from, err := b.snapshot(ctx)
		if err != nil {
			return noopRow, postRow, err
		}
		if _, err := client.InsertManyFast(ctx, params); err != nil {
			return noopRow, postRow, err
		}
		start := time.Now()
		if err := client.Start(ctx); err != nil {
			return noopRow, postRow, err
		}
		deadline := time.Now().Add(3 * time.Minute)
		for noop.done.Load()+post.done.Load() < int64(b.cfg.Events) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		_ = client.Stop(ctx)
		post.client.CloseIdleConnections()
		done := noop.done.Load() + post.done.Load()
		if done < int64(b.cfg.Events) {
			return noopRow, postRow, fmt.Errorf("%s: only %d of %d jobs worked", kind, done, b.cfg.Events)
		}
		cost, err := b.cost(ctx, from, int(done))
		if err != nil {
			return noopRow, postRow, err
		}
		row := bench.Row{Scenario: kind, Events: b.cfg.Events, PerSecond: float64(done) / elapsed.Seconds(), Cost: cost}
		if kind == "river no-op" {
			noopRow = row
		} else {
			postRow = row
		}
		b.logf("%s: %.0f jobs/s", kind, row.PerSecond)
	}
	return noopRow, postRow, nil
}

// riverSteady is one run of River's steady scenario: no-op jobs inserted
// one per transaction at rate, commit → start of work. River's own latency
// floor and cost for the steady rows.
func (b *benchRun) riverSteady(ctx context.Context, rate, trial int) (bench.Row, error) {
	if err := b.reset(ctx); err != nil {
		return bench.Row{}, err
	}
	b.logf("steady: River no-op jobs at %d/s for %s (run %d of %d)", rate, b.cfg.Duration, trial, b.cfg.Trials)
	workers := river.NewWorkers()
	noop := &benchNoopWorker{started: map[int64]time.Time{}}
	river.AddWorker(workers, noop)
	client, err := b.riverClient(workers)
	if err != nil {
		return bench.Row{}, err
	}
	if err := client.Start(ctx); err != nil {
		return bench.Row{}, err
	}
	defer client.Stop(context.Background()) //nolint:errcheck // a bench helper
	from, err := b.snapshot(ctx)
	if err != nil {
		return bench.Row{}, err
	}
	commits, achieved, err := b.paced(ctx, rate, func(int) (string, error) {
		res, err := client.Insert(ctx, benchNoopArgs{}, nil)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(res.Job.ID, 10), nil
	})
	if err != nil {
		return bench.Row{}, err
	}
	deadline := time.Now().Add(time.Minute)
	for noop.done.Load() < int64(len(commits)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The warm-up's jobs count in the cost: every inserted job.
	cost, err := b.cost(ctx, from, len(commits)+rate)
	if err != nil {
		return bench.Row{}, err
	}
	noop.mu.Lock()
	lags := make(bench.Latencies, 0, len(commits))
	for jobID, committed := range commits {
		n, _ := strconv.ParseInt(jobID, 10, 64)
		if at, ok := noop.started[n]; ok {
			lags = append(lags, at.Sub(committed))
		}
	}
	noop.mu.Unlock()
	return bench.Row{Scenario: fmt.Sprintf("river steady %d/s", rate), Events: len(commits),
		PerSecond: achieved, P50: bench.Millis(lags.Percentile(50)),
		P95: bench.Millis(lags.Percentile(95)), P99: bench.Millis(lags.Percentile(99)), Cost: cost,
		Note: "no-op job, one per transaction: insert commit → work starts; its cost is the yardstick of the steady rows"}, nil
}

// pruneBacklog is how many old succeeded deliveries, each with its attempt
// and its event, the prune scenario leaves for the pruner.
const pruneBacklog = 200_000

// pruneSteady: steady deliveries at the first rate beside a backlog of
// pruneBacklog deliveries finished 40 days ago, first with the pruner off
// (the baseline: same rate, same tables), then with the default 30-day
// retention and the prune job every second; reports both lags and the
// rows pruned per second while the deliveries went on.
func (b *benchRun) pruneSteady(ctx context.Context) error {
	rate := b.cfg.Rates[0]
	if err := b.reset(ctx); err != nil {
		return err
	}
	b.logf("prune: seeding %d old deliveries with their attempts and events", pruneBacklog)
	if err := b.seedBacklog(ctx); err != nil {
		return err
	}
	var baselineP99 time.Duration
	for _, pruning := range []bool{false, true} {
		b.sink.Reset()
		_, err := b.pool.Exec(ctx, `DELETE FROM river_job; DELETE FROM delivery_attempts a USING deliveries d
			WHERE a.delivery_id = d.id AND d.created_at > now() - interval '1 day';
			DELETE FROM deliveries WHERE created_at > now() - interval '1 day'; DELETE FROM events WHERE created_at > now() - interval '1 day'`)
		if err != nil {
			return err
		}
		// Both runs start at the beginning of a checkpoint cycle, the first
		// one's after the seeding's WAL (hundreds of megabytes) is written out.
		if err := b.checkpoint(ctx); err != nil {
			return err
		}
		srv, err := b.server(ctx, []string{roleAPI, roleWorker}, func(c *Config) {
			if pruning {
				c.Retention, c.PruneInterval = 30*24*time.Hour, time.Second
			}
		})
		if err != nil {
			return err
		}
		b.logf("prune: Herald at %d events/s for %s, pruner %s", rate, b.cfg.Duration, map[bool]string{false: "off", true: "on"}[pruning])
		before, err := b.oldRows(ctx)
		if err != nil {
			_ = srv.Shutdown(context.Background())
			return err
		}
		started := time.Now()
		merchants := b.healthy()
		commits, achieved, err := b.paced(ctx, rate, func(i int) (string, error) {
			ev := b.newEvent(time.Now())
			err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
				return srv.Delivery.PublishTx(ctx, tx, merchants[i%len(merchants)], ev)
			})
			return ev.ID, err
		})
		elapsed := time.Since(started)
		after, countErr := b.oldRows(ctx)
		if err == nil && !b.sink.WaitArrivals(len(commits), time.Now().Add(time.Minute)) {
			err = fmt.Errorf("prune %d/s: only %d of %d arrived", rate, b.sink.Arrivals(), len(commits))
		}
		_ = srv.Shutdown(context.Background())
		if err = errors.Join(err, countErr); err != nil {
			return err
		}
		lags := b.lags(commits)
		row := bench.Row{Events: len(commits), PerSecond: achieved,
			P50: bench.Millis(lags.Percentile(50)), P95: bench.Millis(lags.Percentile(95)), P99: bench.Millis(lags.Percentile(99))}
		if !pruning {
			baselineP99 = lags.Percentile(99)
			row.Scenario = fmt.Sprintf("steady %d/s, old backlog", rate)
			row.Note = fmt.Sprintf("baseline of the row below: %d deliveries finished 40 days ago in the tables, pruner off", pruneBacklog)
		} else {
			pruned := before - after
			row.Scenario = fmt.Sprintf("steady %d/s while pruning", rate)
			row.Ceiling = fmt.Sprintf("steady %d/s, old backlog", rate)
			if baselineP99 > 0 {
				row.Ratio = float64(lags.Percentile(99)) / float64(baselineP99)
			}
			row.Note = fmt.Sprintf("the pruner (30-day retention, every second, default batches) removed %d old rows "+
				"(deliveries, attempts, events) while the run lasted: %.0f rows/s; p99 %s ms against %s ms without pruning",
				pruned, float64(pruned)/elapsed.Seconds(), bench.Millis(lags.Percentile(99)), bench.Millis(baselineP99))
		}
		b.report.Rows = append(b.report.Rows, row)
	}
	return nil
}

// seedBacklog writes pruneBacklog deliveries that succeeded 40 days ago
// across the healthy merchants' endpoints, each with one attempt and its
// own event of about 1 KB, and vacuums and analyses the tables.
func (b *benchRun) seedBacklog(ctx context.Context) error {
	body := fmt.Sprintf(`{"object":"event","type":"checkout.session.completed","data":{"object":{"padding":%q}}}`, b.padding)
	const chunk = 20_000
	for from := 0; from < pruneBacklog; from += chunk {
		_, err := b.pool.Exec(ctx, `
			WITH eps AS (
				SELECT id, merchant_id, row_number() OVER (ORDER BY id) - 1 AS i, count(*) OVER () AS n
				FROM webhook_endpoints WHERE merchant_id = ANY($1)),
			g AS (
				SELECT g, now() - interval '40 days' + g * interval '10 ms' AS at FROM generate_series($2::int, $3::int) g),
			ev AS (
				INSERT INTO events (id, merchant_id, type, created_at, body)
				SELECT 'evt_old' || g.g, eps.merchant_id, 'checkout.session.completed', g.at, $4::json
				FROM g JOIN eps ON eps.i = g.g % eps.n RETURNING id),
			d AS (
				INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, attempts, created_at,
					completed_at, last_attempt_at, last_status_code)
				SELECT 'dlv_old' || g.g, eps.merchant_id, 'evt_old' || g.g, eps.id, 'checkout.session.completed', 'succeeded', 1,
					g.at, g.at, g.at, 200
				FROM g JOIN eps ON eps.i = g.g % eps.n RETURNING id, created_at)
			INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us, request_headers, response_status,
				response_headers)
			SELECT 'att_old' || substr(d.id, 8), d.id, 1, 'initial', d.created_at, 2500,
				'{"content-type":"application/json","user-agent":"Herald/1","webhook-id":"evt_old","webhook-timestamp":"0"}',
				200, '{"content-type":"text/plain"}'
			FROM d`, b.healthy(), from+1, from+chunk, body)
		if err != nil {
			return fmt.Errorf("seed backlog: %w", err)
		}
	}
	// Vacuumed as well as analysed, as forty-day-old rows would long have
	// been: otherwise autovacuum takes the freshly written tables up in the
	// middle of a measured run, whichever run that is.
	if _, err := b.pool.Exec(ctx, `VACUUM (ANALYZE) events, deliveries, delivery_attempts`); err != nil {
		return fmt.Errorf("seed backlog: %w", err)
	}
	return nil
}

// oldRows counts the rows of the tables the pruner empties that are older
// than a day: the backlog left.
func (b *benchRun) oldRows(ctx context.Context) (int64, error) {
	var n int64
	err := b.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM events WHERE created_at < now() - interval '1 day') +
		(SELECT count(*) FROM deliveries WHERE created_at < now() - interval '1 day') +
		(SELECT count(*) FROM delivery_attempts WHERE started_at < now() - interval '1 day')`).Scan(&n)
	return n, err
}
