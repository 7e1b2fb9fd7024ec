package deliverypg

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldpay/herald/delivery"
)

// Metrics are the delivery engine's Prometheus metrics. Labels are bounded
// sets: never a merchant, endpoint, URL or event id.
//
// A nil *Metrics counts nothing, for tests that wire a Service alone.
type Metrics struct {
	db       *dbCollector
	attempts *prometheus.CounterVec
	duration prometheus.Histogram
	lag      prometheus.Histogram
	failed   prometheus.Counter
	disabled *prometheus.CounterVec
	orphans  prometheus.Counter
	snoozes  *prometheus.CounterVec
}

// Snooze reasons counted by herald_delivery_snoozes_total.
const (
	snoozeBreakerOpen = "breaker_open"
	snoozeInflightCap = "inflight_cap"
	snoozeMerchantCap = "merchant_inflight_cap"
	snoozeResumed     = "resumed"
)

// NewMetrics registers the delivery metrics on reg, including gauges read
// at scrape time: open breakers in this process, and from Postgres (cached
// for a few seconds so a busy scraper cannot load the database) endpoints
// by status, deliveries by status, River jobs by queue and state, and the
// age of the oldest job waiting in each queue. Those read from Postgres
// describe the whole cluster: see SetLeadership.
func NewMetrics(reg prometheus.Registerer, pool *pgxpool.Pool, breakers *delivery.Breakers, logger *slog.Logger) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_delivery_attempts_total",
			Help: "Webhook delivery attempts, by result (success, failure) and status class (2xx…5xx, or the error class: timeout, connection_refused, dns, tls, ssrf_blocked, connection_error).",
		}, []string{"result", "status_class"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_delivery_attempt_duration_seconds",
			Help:    "Duration of webhook delivery attempts, from sending to the end of the kept response.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "herald_delivery_lag_seconds",
			Help:    "Time from an event's delivery being committed to its first attempt.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_deliveries_failed_total",
			Help: "Deliveries that used up every attempt without a 2xx.",
		}),
		disabled: counterVec("herald_endpoints_disabled_total",
			"Webhook endpoints disabled, by cause (gone: answered 410; failing: no success for days; manual: through the API).",
			"cause", string(delivery.CauseGone), string(delivery.CauseFailing), string(delivery.CauseManual)),
		orphans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_deliveries_orphaned_total",
			Help: "Pending deliveries found without a live job by the sweeper, and enqueued again.",
		}),
		snoozes: counterVec("herald_delivery_snoozes_total",
			"Deliveries postponed without spending an attempt, by reason (breaker_open, inflight_cap, merchant_inflight_cap, resumed).",
			"reason", snoozeBreakerOpen, snoozeInflightCap, snoozeMerchantCap, snoozeResumed),
	}
	reg.MustRegister(m.attempts, m.duration, m.lag, m.failed, m.disabled, m.orphans, m.snoozes)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_breakers_open",
		Help: "Per-endpoint circuit breakers open in this process.",
	}, func() float64 { return float64(breakers.OpenCount()) }))
	m.db = &dbCollector{pool: pool, logger: logger, ttl: 5 * time.Second}
	reg.MustRegister(m.db)
	m.attempts.WithLabelValues("success", "2xx")
	return m
}

// counterVec is a counter by one label, exported at 0 for each of values
// from the start, so that the first increment of one shows in a rate().
func counterVec(name, help, label string, values ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	for _, v := range values {
		c.WithLabelValues(v)
	}
	return c
}

// Leadership reports whether this process is the cluster's leader: the one
// process that exports the gauges read from the database.
type Leadership func(ctx context.Context) (bool, error)

// NotLeader is the Leadership of a process that works no jobs: River elects
// a leader among the clients that do.
func NotLeader(context.Context) (bool, error) { return false, nil }

// RiverLeadership reports whether the River client clientID (Client.ID)
// is River's elected leader. River offers no accessor for its leadership
// (the elector and its notifications are internal to the client), so this
// reads River's river_leader table: at most one row, naming the leader
// until expires_at, which the leader pushes forward every few seconds.
func RiverLeadership(pool *pgxpool.Pool, clientID string) Leadership {
	return func(ctx context.Context) (bool, error) {
		var leader bool
		err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_leader WHERE leader_id = $1 AND expires_at > now())`, clientID).Scan(&leader)
		if err != nil {
			return false, fmt.Errorf("read river leader: %w", err)
		}
		return leader, nil
	}
}

// SetLeadership makes the gauges read from the database leader-only. They
// count the whole cluster's endpoints, deliveries and jobs: exported by
// every process, a sum() over processes would count each many times. With
// it, only the process leadership names exports them, and every process
// exports herald_leader (1 or 0), so that an alert sees a cluster without
// a leader. Until it is called, a Metrics acts as a process alone: it
// exports them, with herald_leader 1.
func (m *Metrics) SetLeadership(l Leadership) {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	m.db.leadership, m.db.at = l, time.Time{}
}

func (m *Metrics) endpointDisabled(cause delivery.DisableCause) {
	if m != nil {
		m.disabled.WithLabelValues(string(cause)).Inc()
	}
}

func (m *Metrics) deliveryFailed() {
	if m != nil {
		m.failed.Inc()
	}
}

func (m *Metrics) orphansFound(n int) {
	if m != nil {
		m.orphans.Add(float64(n))
	}
}

// observe records one attempt.
func (m *Metrics) observe(res delivery.AttemptResult, first bool, lag time.Duration) {
	result, class := "failure", string(res.Class())
	if res.Err == nil {
		class = strconv.Itoa(res.StatusCode/100) + "xx"
	}
	if res.Succeeded() {
		result = "success"
	}
	m.attempts.WithLabelValues(result, class).Inc()
	m.duration.Observe(res.Duration.Seconds())
	if first {
		m.lag.Observe(lag.Seconds())
	}
}

var (
	endpointsDesc  = prometheus.NewDesc("herald_endpoints", "Webhook endpoints by status (enabled, paused, disabled).", []string{"status"}, nil)
	deliveriesDesc = prometheus.NewDesc("herald_deliveries",
		"Deliveries in the states that need watching: pending (on their way), failed (attempts used up) and skipped (the endpoint was disabled); each can be redriven.",
		[]string{"status"}, nil)
	queueDesc  = prometheus.NewDesc("herald_queue_jobs", "River jobs by queue and state.", []string{"queue", "state"}, nil)
	oldestDesc = prometheus.NewDesc("herald_queue_oldest_job_age_seconds",
		"How long the oldest job that could run (available, or retryable or scheduled and due) has waited, by queue; 0 when none waits.",
		[]string{"queue"}, nil)
	leaderDesc = prometheus.NewDesc("herald_leader",
		"1 in the process that exports the cluster's gauges read from the database (River's elected leader), 0 in the others.", nil, nil)
)

// heraldQueues are Herald's River queues, reported with zeros so that
// alerts see them.
var heraldQueues = []string{river.QueueDefault, QueueDelivery}

// dbCollector reads endpoint and queue counts from Postgres at scrape time.
type dbCollector struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	ttl    time.Duration

	mu sync.Mutex
	// leadership gates the gauges; nil exports them.
	leadership Leadership
	at         time.Time
	metrics    []prometheus.Metric
}

// Describe implements prometheus.Collector.
func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- endpointsDesc
	ch <- deliveriesDesc
	ch <- queueDesc
	ch <- oldestDesc
	ch <- leaderDesc
}

// Collect implements prometheus.Collector.
func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > c.ttl {
		metrics, err := c.read()
		if err != nil {
			// Keep serving the last values: a scrape must not fail because
			// the database is briefly away.
			c.logger.Warn("read queue metrics", "err", err)
		} else {
			c.metrics, c.at = metrics, time.Now()
		}
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

func (c *dbCollector) read() ([]prometheus.Metric, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	leader := true
	if c.leadership != nil {
		var err error
		if leader, err = c.leadership(ctx); err != nil {
			return nil, err
		}
	}
	if !leader {
		return []prometheus.Metric{prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, 0)}, nil
	}
	// A paused endpoint is enabled, but counted apart.
	endpointStates := []string{string(delivery.EndpointEnabled), "paused", string(delivery.EndpointDisabled)}
	endpoints, err := c.counts(ctx, endpointsDesc, series(endpointStates),
		`SELECT CASE WHEN status = $1 AND paused THEN 'paused' ELSE status END, count(*)
		FROM webhook_endpoints WHERE deleted_at IS NULL GROUP BY 1`, delivery.EndpointEnabled)
	if err != nil {
		return nil, err
	}
	// Succeeded and canceled deliveries only grow (until retention): they
	// are left out so that the count reads the rare states' index and the
	// live jobs, never the history (see StatusBranches).
	watched := []delivery.Status{delivery.StatusPending, delivery.StatusFailed, delivery.StatusSkipped}
	deliveries, err := c.counts(ctx, deliveriesDesc, series(watched),
		`SELECT status, count(*) FROM (SELECT d.status FROM deliveries d WHERE d.rare_status = ANY($1)
			UNION ALL SELECT d.status FROM deliveries d WHERE `+queued+`) d GROUP BY status`, watched)
	if err != nil {
		return nil, err
	}
	// Completed jobs are left out: River keeps them a day and counting them
	// would scan the whole table at every scrape. Herald's queues report
	// every state, zero included, so that alerts see the series.
	var queues [][]string
	for _, queue := range heraldQueues {
		for _, state := range rivertype.JobStates() {
			if state != rivertype.JobStateCompleted {
				queues = append(queues, []string{queue, string(state)})
			}
		}
	}
	jobs, err := c.counts(ctx, queueDesc, queues, `SELECT queue, state::text, count(*) FROM river_job
		WHERE state <> $1::text::river_job_state GROUP BY queue, state`, rivertype.JobStateCompleted)
	if err != nil {
		return nil, err
	}
	oldest, err := c.oldestJobs(ctx)
	if err != nil {
		return nil, err
	}
	return slices.Concat([]prometheus.Metric{prometheus.MustNewConstMetric(leaderDesc, prometheus.GaugeValue, 1)},
		endpoints, deliveries, jobs, oldest), nil
}

// oldestJobs reads, per Herald queue, how long its oldest due job has
// waited since it became due: the queue's lag, whatever its length.
// Retryable and scheduled jobs count from their due time, since River's
// scheduler makes them available only every few seconds.
func (c *dbCollector) oldestJobs(ctx context.Context) ([]prometheus.Metric, error) {
	age := make(map[string]float64, len(heraldQueues))
	rows, err := c.pool.Query(ctx, `SELECT queue, EXTRACT(EPOCH FROM now() - min(scheduled_at))::float8 FROM river_job
		WHERE state IN ('available', 'retryable', 'scheduled') AND scheduled_at <= now() AND queue = ANY($1)
		GROUP BY queue`, heraldQueues)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var queue string
		var seconds float64
		if err := rows.Scan(&queue, &seconds); err != nil {
			return nil, err
		}
		age[queue] = seconds
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]prometheus.Metric, 0, len(heraldQueues))
	for _, queue := range heraldQueues {
		out = append(out, prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age[queue], queue))
	}
	return out, nil
}

// series turns single label values into series of one label each.
func series[S ~string](values []S) [][]string {
	out := make([][]string, len(values))
	for i, v := range values {
		out[i] = []string{string(v)}
	}
	return out
}

// counts reads rows of label values and a count into gauges of desc. Every
// series of zero is reported, with 0 when no row names it.
func (c *dbCollector) counts(ctx context.Context, desc *prometheus.Desc, zero [][]string, sql string, args ...any) ([]prometheus.Metric, error) {
	byLabels := make(map[string]float64, len(zero))
	labels := map[string][]string{}
	for _, z := range zero {
		key := strings.Join(z, "\x00")
		byLabels[key], labels[key] = 0, z
	}
	rows, err := c.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		values, err := rows.Values()
		if err != nil {
			return nil, err
		}
		names := make([]string, len(values)-1)
		for i := range names {
			names[i], _ = values[i].(string)
		}
		n, _ := values[len(values)-1].(int64)
		key := strings.Join(names, "\x00")
		byLabels[key], labels[key] = float64(n), names
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]prometheus.Metric, 0, len(byLabels))
	for key, n := range byLabels {
		out = append(out, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, n, labels[key]...))
	}
	return out, nil
}
