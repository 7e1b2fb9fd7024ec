package deliverypg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/webhook"
)

// WorkerConfig holds the delivery worker's collaborators and settings.
// Defaults come from package delivery (DefaultAttemptTimeout and the rest),
// the one place each is written.
type WorkerConfig struct {
	// Sender makes the HTTP attempt. Required.
	Sender delivery.Sender
	// Breakers are this process's per-endpoint circuit breakers. Required.
	Breakers *delivery.Breakers
	// Box opens sealed signing secrets. Required.
	Box *seal.Box
	// Inserter enqueues the deliveries of the operational events the worker
	// raises (webhook_endpoint.disabled, delivery.failed). Required.
	Inserter JobInserter
	// Metrics records attempts. Required.
	Metrics *Metrics
	// Policy decides what follows each attempt (retries, auto-disable);
	// zero fields take delivery's defaults.
	Policy delivery.Policy
	// InflightPerEndpoint caps concurrent attempts to one endpoint in this
	// process, so one slow endpoint cannot hold every worker. Default
	// delivery.DefaultInflightPerEndpoint.
	InflightPerEndpoint int
	// InflightPerMerchant caps concurrent attempts to all of one merchant's
	// endpoints in this process, so a merchant with many slow endpoints
	// cannot hold every worker either. Default
	// delivery.DefaultInflightPerMerchant.
	InflightPerMerchant int
	// AttemptTimeout bounds one attempt; the job's timeout is
	// delivery.JobTimeout of it. Default delivery.DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// DeliverWorker works DeliverArgs: one attempt per run.
//
// Control flow back to River is decided here and only here: a delivered
// attempt completes the job; a failed attempt that will be retried snoozes the job for
// the retry delay; an exhausted delivery, a 410 and a disabled endpoint
// cancel the job. Herald counts delivery attempts itself (deliveries.attempts)
// and snoozes rather than returning errors, so that the schedule, Retry-After
// and the attempt log all use one count; River's own attempts then only count
// infrastructure failures (a crash, a database error), retried by NextRetry.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	pool     *pgxpool.Pool
	cfg      WorkerConfig
	ops      opsLog
	inflight *inflight
	// loads and records batch the per-attempt reads and writes of
	// concurrent workers; see coalescer. Run serves them.
	loads   *coalescer[string, *target]
	records *coalescer[attemptRecord, error]
}

// NewDeliverWorker returns the worker. It panics when a required
// collaborator is missing: a wiring bug.
func NewDeliverWorker(pool *pgxpool.Pool, cfg WorkerConfig) *DeliverWorker {
	if cfg.Sender == nil || cfg.Breakers == nil || cfg.Box == nil || cfg.Inserter == nil || cfg.Metrics == nil {
		panic("deliverypg: Sender, Breakers, Box, Inserter and Metrics are required")
	}
	cfg.Policy = cfg.Policy.WithDefaults()
	if cfg.InflightPerEndpoint == 0 {
		cfg.InflightPerEndpoint = delivery.DefaultInflightPerEndpoint
	}
	if cfg.InflightPerMerchant == 0 {
		cfg.InflightPerMerchant = delivery.DefaultInflightPerMerchant
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = delivery.DefaultAttemptTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &DeliverWorker{pool: pool, cfg: cfg, ops: opsLog{cfg.Logger, cfg.Metrics},
		inflight: newInflight(cfg.InflightPerEndpoint, cfg.InflightPerMerchant)}
	w.loads = newCoalescer(coalescerLoops, coalescerBatch, w.loadBatch)
	w.records = newCoalescer(coalescerLoops, coalescerBatch, w.recordBatch)
	return w
}

// Batching of the worker's database work: two loops, each taking up to a
// couple of hundred calls per round trip. With one, a call arriving while
// the batch is in flight waits a whole round trip (the steady 1,000/s p99
// rose). With four, a bulk drain's statements carried 11-12 loads and
// 19-22 records each, against 16-20 and 57-61 with two, and four record
// batches queued on the same endpoints' rows. Two gave the drain 16 % more
// deliveries a second for 12 % less Postgres time, and the steady 1,000/s
// more of its rate on a slow machine (make bench, seven alternated runs
// each, medians).
const (
	coalescerLoops = 2
	coalescerBatch = 256
)

// Run serves the batched loads and records until ctx ends. It must run
// while River works DeliverArgs jobs, and stop only after River stopped:
// until then a job may be waiting on it.
func (w *DeliverWorker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { w.loads.run(ctx) })
	wg.Go(func() { w.records.run(ctx) })
	wg.Wait()
}

// Timeout implements river.Worker: the attempt's own timeout plus time to
// record it. River's RescueStuckJobsAfter must be longer
// (delivery.MinRescueAfter).
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return delivery.JobTimeout(w.cfg.AttemptTimeout)
}

// NextRetry implements river.Worker for infrastructure failures only
// (attempt outcomes snooze): 1 s, 2 s, 4 s… up to a minute.
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt, 6), time.Minute))
}

// target is everything one attempt needs, read in one query.
type target struct {
	delivery.Delivery
	Seq         int
	RedriveBase int
	// Queued: waiting for its first attempt and never put off, on the hot
	// path (see StatusBranches).
	Queued          bool
	URL             string
	EndpointStatus  delivery.EndpointStatus
	Paused          bool
	Deleted         bool
	FailingSince    *time.Time
	Secret          string
	PreviousSecret  *string
	PreviousExpires *time.Time
	Body            []byte
}

// Work implements river.Worker: load the delivery, make one attempt if it
// may go now, judge it (delivery.Policy.Judge holds the whole policy),
// record it, and act on the judgement.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	step, err := w.work(ctx, job)
	if err != nil {
		return err // an infrastructure failure: River retries it (NextRetry)
	}
	return riverStep(step)
}

func (w *DeliverWorker) work(ctx context.Context, job *river.Job[DeliverArgs]) (delivery.Step, error) {
	read := time.Now()
	t, err := w.load(ctx, job.Args.DeliveryID)
	switch {
	case errors.Is(err, delivery.ErrNotFound):
		return delivery.StepDone, nil
	case err != nil:
		return delivery.Step{}, err
	case t.Seq != job.Args.Seq || t.Status != delivery.StatusPending || t.Held:
		return delivery.StepDone, nil // a newer job owns the delivery, or there is nothing left to do
	case t.Deleted || t.EndpointStatus != delivery.EndpointEnabled:
		return delivery.StepEndpointDisabled, w.cancel(ctx, t)
	case t.Paused:
		return w.hold(ctx, t)
	}

	switch capped := w.inflight.acquire(t.EndpointID, t.MerchantID, read); capped {
	case "":
	case staleTarget:
		return w.work(ctx, job) // read again: once, as the disabling is now older than the read
	default:
		w.cfg.Metrics.snoozes.WithLabelValues(capped).Inc()
		w.deferQueued(ctx, t)
		return delivery.SnoozeFor(jitter(delivery.CapWait(putOff(job, t)))), nil
	}
	defer w.inflight.release(t.EndpointID, t.MerchantID)
	done, wait, ok := w.cfg.Breakers.Allow(t.EndpointID)
	if !ok {
		w.cfg.Metrics.snoozes.WithLabelValues(snoozeBreakerOpen).Inc()
		w.deferQueued(ctx, t)
		return delivery.SnoozeFor(wait + jitter(200*time.Millisecond)), nil
	}

	secrets, err := w.secrets(t)
	if err != nil {
		done(false)
		return delivery.Step{}, err
	}
	start := w.cfg.Now()
	res := w.cfg.Sender.Send(ctx, delivery.SendRequest{
		URL: t.URL, MsgID: t.EventID, Body: t.Body, Secrets: secrets, Timestamp: start,
	})
	// Only an endpoint that looks down counts against its breaker: one that
	// rejects a few poison messages keeps receiving the others.
	done(!delivery.EndpointDown(res))
	redriven := job.Args.Redrive && (t.LastAttemptAt == nil || t.LastAttemptAt.Before(job.CreatedAt))
	j := w.cfg.Policy.Judge(res, delivery.AttemptContext{
		Attempts: t.Attempts, RedriveBase: t.RedriveBase, Redriven: redriven, FailingSince: t.FailingSince, Start: start,
	}, rand.Float64)

	// Record even if the job's context is ending (shutdown, timeout): the
	// attempt happened and the log must say so.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), delivery.RecordTimeout)
	defer cancel()
	recErr, err := w.records.do(recordCtx, attemptRecord{t: t, res: res, start: start, j: j, now: w.cfg.Now()})
	if err == nil {
		err = recErr
	}
	if err != nil {
		return delivery.Step{}, err
	}
	// The first-attempt lag is the time from the event to its first try;
	// a redrive of a skipped delivery, days later, says nothing about it.
	w.cfg.Metrics.observe(res, t.Attempts == 0 && !redriven, start.Sub(t.Created))
	return j.Step, nil
}

// deferQueued takes a delivery put off before its first attempt (its
// endpoint's breaker is open, or a cap is reached) off the hot path, once:
// during an outage such deliveries pile up, and the lists and the pending
// gauge then find them in the rare states' index instead of one lookup
// per live job (see StatusBranches). It is only that: the delivery is
// listed through its job either way, so a failure is logged, not returned.
func (w *DeliverWorker) deferQueued(ctx context.Context, t *target) {
	if !t.Queued {
		return
	}
	if _, err := w.pool.Exec(ctx, `UPDATE deliveries d SET deferred = true, `+
		setRareStatus(map[string]string{"deferred": "true"})+` WHERE id = $1 AND NOT deferred`, t.ID); err != nil {
		w.cfg.Logger.Warn("mark delivery put off", "delivery", t.ID, "err", err)
	}
}

// putOff counts the times job was put off without an attempt: River counts
// every snooze in the job's metadata, and each failed attempt the job made
// was followed by one (its retry's wait). Attempts made before this job (a
// redrive's, an orphan's) make it an undercount, so a wait is never longer
// than intended.
func putOff(job *river.Job[DeliverArgs], t *target) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	if json.Unmarshal(job.Metadata, &m) != nil {
		return 0
	}
	return m.Snoozes - t.Attempts
}

// riverStep tells River a job's next step: the one place a delivery job's
// outcome becomes River's control flow.
func riverStep(s delivery.Step) error {
	switch s.Action {
	case delivery.Snooze:
		return river.JobSnooze(s.After)
	case delivery.Cancel:
		return river.JobCancel(errors.New(s.Reason))
	}
	return nil
}

func (w *DeliverWorker) load(ctx context.Context, deliveryID string) (*target, error) {
	t, err := w.loads.do(ctx, deliveryID)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, delivery.ErrNotFound
	}
	return t, nil
}

// genericPlan, queued before the worker's hot statements in the same
// implicit transaction (a batch is one), makes Postgres run their cached
// generic plans; both settings end with that transaction. The statements
// take their ids as arrays, and Postgres prices a generic plan for a hundred
// ids against a custom plan for the one or few at hand: left to choose, it
// plans every execution afresh, which cost more Postgres time than the
// statements ran for (make bench, README "Benchmarks"). A generic plan is
// made once per connection, so sequential scans are off for it: one made
// while the tables are nearly empty (a new installation) would otherwise
// scan whole tables until the next ANALYZE. Their plans are primary-key
// lookups, one per id.
const genericPlan = `SELECT ` + genericPlanSettings

// genericPlanSettings are genericPlan's settings, for a batch that sets
// others too in the same statement.
const genericPlanSettings = `set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)`

// loadBatch reads the targets of many deliveries in one query; a missing
// delivery yields nil.
func (w *DeliverWorker) loadBatch(ctx context.Context, ids []string) ([]*target, error) {
	b := &pgx.Batch{}
	b.Queue(genericPlan)
	b.Queue(`SELECT d.id, d.merchant_id, d.event_id, d.event_type, d.endpoint_id, d.status, d.held,
		d.attempts, d.redrive_base, d.job_seq, d.last_attempt_at, d.created_at, d.status = 'pending' AND d.rare_status IS NULL,
		e.url, e.status, e.paused, e.deleted_at IS NOT NULL, e.failing_since, e.secret_sealed, e.previous_secret_sealed,
		e.previous_secret_expires_at, ev.body::text
		FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id
		WHERE d.id = ANY($1)`, ids)
	br := w.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	byID := make(map[string]*target, len(ids))
	for rows.Next() {
		var t target
		if err := rows.Scan(&t.ID, &t.MerchantID, &t.EventID, &t.EventType, &t.EndpointID, &t.Status,
			&t.Held, &t.Attempts, &t.RedriveBase, &t.Seq, &t.LastAttemptAt, &t.Created, &t.Queued, &t.URL, &t.EndpointStatus,
			&t.Paused, &t.Deleted, &t.FailingSince, &t.Secret, &t.PreviousSecret, &t.PreviousExpires, &t.Body); err != nil {
			return nil, fmt.Errorf("load deliveries: %w", err)
		}
		byID[t.ID] = &t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	out := make([]*target, len(ids))
	for i, deliveryID := range ids {
		out[i] = byID[deliveryID] // the same delivery twice shares one target: both callers only read it
	}
	return out, nil
}

// secrets opens the signing keys: the current one, and the previous one
// while its overlap lasts.
func (w *DeliverWorker) secrets(t *target) ([][]byte, error) {
	sealed := []string{t.Secret}
	if t.PreviousSecret != nil && t.PreviousExpires != nil && w.cfg.Now().Before(*t.PreviousExpires) {
		sealed = append(sealed, *t.PreviousSecret)
	}
	keys := make([][]byte, 0, len(sealed))
	for _, s := range sealed {
		secret, err := w.cfg.Box.Open(s, t.EndpointID)
		if err != nil {
			return nil, fmt.Errorf("open signing secret of %s: %w", t.EndpointID, err)
		}
		key, err := webhook.ParseSecret(secret)
		if err != nil {
			return nil, fmt.Errorf("signing secret of %s: %w", t.EndpointID, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// cancel marks a delivery to a disabled or deleted endpoint cancelled.
func (w *DeliverWorker) cancel(ctx context.Context, t *target) error {
	_, err := w.pool.Exec(ctx, `UPDATE deliveries d SET status = $3, next_attempt_at = NULL, completed_at = $2,
		`+setRareStatus(map[string]string{"status": "$3"})+`
		WHERE id = $1 AND status = $4`, t.ID, w.cfg.Now(), delivery.StatusCanceled, delivery.StatusPending)
	if err != nil {
		return fmt.Errorf("cancel delivery: %w", err)
	}
	return nil
}

// hold parks a delivery of a paused endpoint until it is resumed. The
// endpoint row is locked and read again so that a resume committing at the
// same moment cannot be missed: either it sees the delivery held and
// enqueues it, or this sees it resumed and runs the delivery now.
func (w *DeliverWorker) hold(ctx context.Context, t *target) (delivery.Step, error) {
	held := false
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		var paused bool
		if err := tx.QueryRow(ctx, `SELECT paused FROM webhook_endpoints WHERE id = $1 FOR SHARE`, t.EndpointID).Scan(&paused); err != nil {
			return fmt.Errorf("lock endpoint: %w", err)
		}
		if !paused {
			return nil
		}
		held = true
		_, err := tx.Exec(ctx, `UPDATE deliveries d SET held = true, next_attempt_at = NULL, `+
			setRareStatus(map[string]string{"held": "true"})+` WHERE id = $1`, t.ID)
		return err
	})
	if err != nil {
		return delivery.Step{}, fmt.Errorf("hold delivery: %w", err)
	}
	if !held {
		w.cfg.Metrics.snoozes.WithLabelValues(snoozeResumed).Inc()
		return delivery.SnoozeFor(0), nil
	}
	return delivery.StepHeld, nil
}

// jitter returns a duration in [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

// inflight caps concurrent attempts per endpoint and per merchant in this
// process. Open-source River has no per-key concurrency limit, so a job
// over a cap snoozes.
//
// It also remembers the endpoints this process's worker disabled (a 410,
// or failing for too long) in the last minute. A job reads its delivery
// and endpoint before it takes a slot: one that read them just before
// another job's 410 disabled the endpoint, and takes the slot that job
// gave up, must not send to an endpoint that said Gone (acquire says
// staleTarget; the disabling cancelled the delivery, which a fresh read
// shows). Another process's job may still send once in that moment; what
// every process sees is the endpoint's row.
type inflight struct {
	perEndpoint, perMerchant int

	mu        sync.Mutex
	endpoints map[string]int
	merchants map[string]int
	disabled  map[string]time.Time
}

// staleTarget is acquire's answer to a job whose delivery and endpoint
// were read before this process disabled the endpoint: read them again.
const staleTarget = "stale_target"

// disabledMemory is how long inflight remembers a disabling: far longer
// than any job takes from reading its delivery to asking for a slot.
const disabledMemory = time.Minute

func newInflight(perEndpoint, perMerchant int) *inflight {
	return &inflight{perEndpoint: perEndpoint, perMerchant: perMerchant, endpoints: map[string]int{}, merchants: map[string]int{},
		disabled: map[string]time.Time{}}
}

// endpointDisabled records that endpointID was disabled, committed, at
// at (before the job that disabled it gives up its slot).
func (f *inflight) endpointDisabled(endpointID string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, when := range f.disabled {
		if at.Sub(when) > disabledMemory {
			delete(f.disabled, id)
		}
	}
	f.disabled[endpointID] = at
}

// acquire takes a slot for an attempt to endpointID of merchantID, for a
// job that read its delivery at read. When a cap is reached it takes
// nothing and returns the cap's snooze reason; when the endpoint was
// disabled here after read, nothing and staleTarget.
func (f *inflight) acquire(endpointID, merchantID string, read time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.disabled[endpointID].Before(read):
		return staleTarget
	case f.endpoints[endpointID] >= f.perEndpoint:
		return snoozeInflightCap
	case f.merchants[merchantID] >= f.perMerchant:
		return snoozeMerchantCap
	}
	f.endpoints[endpointID]++
	f.merchants[merchantID]++
	return ""
}

func (f *inflight) release(endpointID, merchantID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.endpoints[endpointID]--; f.endpoints[endpointID] <= 0 {
		delete(f.endpoints, endpointID)
	}
	if f.merchants[merchantID]--; f.merchants[merchantID] <= 0 {
		delete(f.merchants, merchantID)
	}
}
