package deliverypg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/webhook"
)

// WorkerConfig holds the delivery worker's collaborators and settings.
type WorkerConfig struct {
	// Sender makes the HTTP attempt. Required.
	Sender delivery.Sender
	// Breakers are this process's per-endpoint circuit breakers. Required.
	Breakers *delivery.Breakers
	// Box opens sealed signing secrets. Required.
	Box *seal.Box
	// Metrics records attempts. Required.
	Metrics *Metrics
	// Retry is the retry policy; zero fields take delivery's defaults.
	Retry delivery.RetryPolicy
	// InflightPerEndpoint caps concurrent attempts to one endpoint in this
	// process, so one slow merchant cannot hold every worker. Default 10.
	InflightPerEndpoint int
	// DisableAfter disables an endpoint that has not had a single success
	// for this long. Default 5 days.
	DisableAfter time.Duration
	// AttemptTimeout bounds one attempt; the job's timeout is a little
	// longer. Default 15 s.
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
	inflight *inflight
	// loads and records batch the per-attempt reads and writes of
	// concurrent workers; see coalescer. Run serves them.
	loads   *coalescer[string, *target]
	records *coalescer[attemptRecord, recordOutcome]
}

// NewDeliverWorker returns the worker. It panics when a required
// collaborator is missing: a wiring bug.
func NewDeliverWorker(pool *pgxpool.Pool, cfg WorkerConfig) *DeliverWorker {
	if cfg.Sender == nil || cfg.Breakers == nil || cfg.Box == nil || cfg.Metrics == nil {
		panic("deliverypg: Sender, Breakers, Box and Metrics are required")
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	if cfg.InflightPerEndpoint == 0 {
		cfg.InflightPerEndpoint = 10
	}
	if cfg.DisableAfter == 0 {
		cfg.DisableAfter = 5 * 24 * time.Hour
	}
	if cfg.AttemptTimeout == 0 {
		cfg.AttemptTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	w := &DeliverWorker{pool: pool, cfg: cfg, inflight: newInflight(cfg.InflightPerEndpoint)}
	w.loads = newCoalescer(coalescerLoops, coalescerBatch, w.loadBatch)
	w.records = newCoalescer(coalescerLoops, coalescerBatch, w.recordBatch)
	return w
}

// Batching of the worker's database work: a few loops, each taking up to
// a couple of hundred calls per round trip.
const (
	coalescerLoops = 4
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
// record it. River's RescueStuckJobsAfter must be longer.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.cfg.AttemptTimeout + 10*time.Second
}

// NextRetry implements river.Worker for infrastructure failures only
// (attempt outcomes snooze): 1 s, 2 s, 4 s… up to a minute.
func (w *DeliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(min(time.Second<<min(job.Attempt, 6), time.Minute))
}

// target is everything one attempt needs, read in one query.
type target struct {
	delivery.Delivery
	Seq             int
	RedriveBase     int
	URL             string
	EndpointStatus  delivery.EndpointStatus
	Paused          bool
	Deleted         bool
	Secret          string
	PreviousSecret  *string
	PreviousExpires *time.Time
	Body            []byte
}

// Work implements river.Worker.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	t, err := w.load(ctx, job.Args.DeliveryID)
	if errors.Is(err, delivery.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.Seq != job.Args.Seq || t.Status != delivery.StatusPending || t.Held {
		return nil // a newer job owns the delivery, or there is nothing left to do
	}
	switch {
	case t.Deleted || t.EndpointStatus != delivery.EndpointEnabled:
		if err := w.cancel(ctx, t); err != nil {
			return err
		}
		return river.JobCancel(delivery.ErrEndpointDisabled)
	case t.Paused:
		return w.hold(ctx, t)
	}

	if !w.inflight.acquire(t.EndpointID) {
		w.cfg.Metrics.snoozes.WithLabelValues(snoozeInflightCap).Inc()
		return river.JobSnooze(jitter(500 * time.Millisecond))
	}
	defer w.inflight.release(t.EndpointID)
	done, wait, ok := w.cfg.Breakers.Allow(t.EndpointID)
	if !ok {
		w.cfg.Metrics.snoozes.WithLabelValues(snoozeBreakerOpen).Inc()
		return river.JobSnooze(wait + jitter(200*time.Millisecond))
	}

	secrets, err := w.secrets(t)
	if err != nil {
		done(false)
		return err
	}
	start := w.cfg.Now()
	res := w.cfg.Sender.Send(ctx, delivery.SendRequest{
		URL: t.URL, MsgID: t.EventID, Body: t.Body, Secrets: secrets, Timestamp: start,
	})
	done(res.Succeeded())
	attempts := t.Attempts + 1
	decision := w.cfg.Retry.Decide(res, attempts-t.RedriveBase, start, rand.Float64)

	trigger := delivery.TriggerRetry
	switch {
	case t.Attempts == 0:
		trigger = delivery.TriggerInitial
	case job.Args.Redrive && (t.LastAttemptAt == nil || t.LastAttemptAt.Before(job.CreatedAt)):
		trigger = delivery.TriggerRedrive
	}
	// Record even if the job's context is ending (shutdown, timeout): the
	// attempt happened and the log must say so.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	outcome, err := w.records.do(recordCtx, attemptRecord{
		t: t, res: res, start: start, attempts: attempts, trigger: trigger, decision: decision, now: w.cfg.Now(),
	})
	if err != nil {
		return err
	}
	disabled := outcome.disabled
	if !disabled && !outcome.failingSince.IsZero() && w.cfg.Now().Sub(outcome.failingSince) >= w.cfg.DisableAfter {
		b := &pgx.Batch{}
		queueDisable(b, t.EndpointID, delivery.DisabledReasonFailing(w.cfg.DisableAfter, outcome.failingSince), w.cfg.Now())
		if err := w.pool.SendBatch(recordCtx, b).Close(); err != nil {
			return fmt.Errorf("disable endpoint: %w", err)
		}
		disabled = true
	}
	w.cfg.Metrics.observe(res, t.Attempts == 0, start.Sub(t.Created))

	switch {
	case disabled:
		return river.JobCancel(delivery.ErrEndpointDisabled)
	case decision.Verdict == delivery.Delivered:
		return nil
	case decision.Verdict == delivery.Retry:
		return river.JobSnooze(decision.RetryIn)
	case decision.Verdict == delivery.Exhausted:
		w.cfg.Metrics.failed.Inc()
		return river.JobCancel(fmt.Errorf("delivery %s failed after %d attempts", t.ID, attempts-t.RedriveBase))
	}
	return river.JobCancel(errors.New("the endpoint answered 410 Gone and was disabled"))
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

// loadBatch reads the targets of many deliveries in one query; a missing
// delivery yields nil.
func (w *DeliverWorker) loadBatch(ctx context.Context, ids []string) ([]*target, error) {
	rows, err := w.pool.Query(ctx, `SELECT d.id, d.merchant_id, d.event_id, d.event_type, d.endpoint_id, d.status, d.held,
		d.attempts, d.redrive_base, d.job_seq, d.last_attempt_at, d.created_at,
		e.url, e.status, e.paused, e.deleted_at IS NOT NULL, e.secret_sealed, e.previous_secret_sealed,
		e.previous_secret_expires_at, ev.body::text
		FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id
		WHERE d.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load deliveries: %w", err)
	}
	byID := make(map[string]*target, len(ids))
	for rows.Next() {
		var t target
		if err := rows.Scan(&t.ID, &t.MerchantID, &t.EventID, &t.EventType, &t.EndpointID, &t.Status,
			&t.Held, &t.Attempts, &t.RedriveBase, &t.Seq, &t.LastAttemptAt, &t.Created, &t.URL, &t.EndpointStatus,
			&t.Paused, &t.Deleted, &t.Secret, &t.PreviousSecret, &t.PreviousExpires, &t.Body); err != nil {
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
	_, err := w.pool.Exec(ctx, `UPDATE deliveries SET status = 'canceled', next_attempt_at = NULL, completed_at = $2
		WHERE id = $1 AND status = 'pending'`, t.ID, w.cfg.Now())
	if err != nil {
		return fmt.Errorf("cancel delivery: %w", err)
	}
	return nil
}

// hold parks a delivery of a paused endpoint until it is resumed. The
// endpoint row is locked and read again so that a resume committing at the
// same moment cannot be missed: either it sees the delivery held and
// enqueues it, or this sees it resumed and runs the delivery now.
func (w *DeliverWorker) hold(ctx context.Context, t *target) error {
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
		_, err := tx.Exec(ctx, `UPDATE deliveries SET held = true, next_attempt_at = NULL WHERE id = $1`, t.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("hold delivery: %w", err)
	}
	if !held {
		w.cfg.Metrics.snoozes.WithLabelValues(snoozeResumed).Inc()
		return river.JobSnooze(0)
	}
	return river.JobCancel(errors.New("endpoint paused: the delivery is held until it is resumed"))
}

// attemptRecord is one attempt and its verdict, to be written.
type attemptRecord struct {
	t        *target
	res      delivery.AttemptResult
	start    time.Time
	attempts int
	trigger  string
	decision delivery.Decision
	now      time.Time
}

// recordOutcome is what writing a record found out.
type recordOutcome struct {
	// disabled is set when the attempt (a 410) disabled the endpoint.
	disabled bool
	// failingSince is when the endpoint's current outage began, for a
	// failed attempt.
	failingSince time.Time
}

// recordBatch writes many attempts and their consequences in one pipelined
// batch, which pgx sends with a single Sync: one round trip, one implicit
// transaction, all or nothing.
//
// The batch does not wait for its WAL flush (synchronous_commit off for
// this transaction only): if Postgres crashes in the next few milliseconds
// the records may be lost, those deliveries then still look pending, River
// rescues or retries their jobs, and the events are sent again — one more
// request each, deduplicated by webhook-id, never a lost delivery and never
// a recorded attempt that did not happen. Events themselves are always
// committed synchronously, in the payment's transaction.
//
// A delivered job is completed by River's batched completer once Work
// returns, not inside this transaction: should the process die in between,
// the rescued job finds the delivery succeeded and stops without a request.
func (w *DeliverWorker) recordBatch(ctx context.Context, recs []attemptRecord) ([]recordOutcome, error) {
	var (
		a attemptColumns
		d deliveryColumnsUpdate
	)
	succeeded, failing := map[string]time.Time{}, map[string]time.Time{}
	gone := map[string]time.Time{}
	for _, r := range recs {
		a.add(r)
		d.add(r)
		switch {
		case r.res.Succeeded():
			succeeded[r.t.EndpointID] = r.now
		case r.decision.Verdict == delivery.Gone:
			gone[r.t.EndpointID] = r.now
		default:
			if at, ok := failing[r.t.EndpointID]; !ok || r.start.Before(at) {
				failing[r.t.EndpointID] = r.start
			}
		}
	}

	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(`INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us, request_headers,
			response_status, response_headers, response_body, error_class, error_message)
		SELECT a.id, a.delivery_id, a.number, a.trigger, a.started_at, a.duration_us, a.request_headers::jsonb,
			a.response_status, a.response_headers::jsonb, a.response_body, a.error_class, a.error_message
		FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::timestamptz[], $6::bigint[], $7::text[],
			$8::int[], $9::text[], $10::bytea[], $11::text[], $12::text[])
			AS a(id, delivery_id, number, trigger, started_at, duration_us, request_headers, response_status,
			response_headers, response_body, error_class, error_message)`,
		a.ids, a.deliveryIDs, a.numbers, a.triggers, a.started, a.durations, a.requestHeaders, a.statuses,
		a.responseHeaders, a.bodies, a.classes, a.messages)
	b.Queue(`UPDATE deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
			last_attempt_at = u.last_attempt_at, last_status_code = u.code, last_error_class = u.class,
			completed_at = u.completed_at
		FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::text[],
			$8::timestamptz[]) AS u(id, status, attempts, next_attempt_at, last_attempt_at, code, class, completed_at)
		WHERE d.id = u.id`,
		d.ids, d.statuses, d.attempts, d.nextAttempts, d.lastAttempts, d.codes, d.classes, d.completed)
	if len(succeeded) > 0 {
		// Every delivery would otherwise update its endpoint's row: health is
		// refreshed at most once a second, so concurrent batches rarely queue
		// on an endpoint's lock. Ids are sorted so batches lock in one order.
		ids, at := sortedKeys(succeeded)
		b.Queue(`UPDATE webhook_endpoints e SET last_success_at = u.at, failing_since = NULL
			FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
			WHERE e.id = u.id AND (e.last_success_at IS NULL OR e.last_success_at < u.at - interval '1 second'
				OR e.failing_since IS NOT NULL)`, ids, at)
	}
	failingSince := map[string]time.Time{}
	if len(failing) > 0 {
		// Likewise only the first failure of an outage writes the row; the
		// outage's start is read back for the auto-disable rule.
		ids, at := sortedKeys(failing)
		b.Queue(`WITH first AS (
				UPDATE webhook_endpoints e SET failing_since = u.at
				FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
				WHERE e.id = u.id AND e.failing_since IS NULL RETURNING e.id, e.failing_since)
			SELECT e.id, COALESCE(f.failing_since, e.failing_since) FROM webhook_endpoints e
			LEFT JOIN first f ON f.id = e.id WHERE e.id = ANY($1)`, ids, at).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var endpointID string
				var since *time.Time
				if err := rows.Scan(&endpointID, &since); err != nil {
					return err
				}
				if since != nil {
					failingSince[endpointID] = *since
				}
			}
			return rows.Err()
		})
	}
	for endpointID, now := range gone {
		queueDisable(b, endpointID, delivery.DisabledReasonGone, now)
	}
	if err := w.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("record attempts: %w", err)
	}

	out := make([]recordOutcome, len(recs))
	for i, r := range recs {
		switch {
		case r.decision.Verdict == delivery.Gone:
			out[i].disabled = true
		case !r.res.Succeeded():
			out[i].failingSince = failingSince[r.t.EndpointID]
		}
	}
	return out, nil
}

func sortedKeys(m map[string]time.Time) ([]string, []time.Time) {
	ids := make([]string, 0, len(m))
	for k := range m {
		ids = append(ids, k)
	}
	slices.Sort(ids)
	at := make([]time.Time, len(ids))
	for i, k := range ids {
		at[i] = m[k]
	}
	return ids, at
}

// attemptColumns are delivery_attempts rows as column arrays, for unnest.
type attemptColumns struct {
	ids, deliveryIDs, triggers, requestHeaders, classes, messages []string
	numbers                                                       []int32
	started                                                       []time.Time
	durations                                                     []int64
	statuses                                                      []*int32
	responseHeaders                                               []*string
	bodies                                                        [][]byte
}

func (c *attemptColumns) add(r attemptRecord) {
	errMessage := ""
	if r.res.Err != nil {
		errMessage = r.res.Err.Error()
	}
	body := r.res.Body
	if body == nil {
		body = []byte{} // the column is NOT NULL; no answer is an empty body
	}
	c.ids = append(c.ids, id.New("att"))
	c.deliveryIDs = append(c.deliveryIDs, r.t.ID)
	c.numbers = append(c.numbers, int32(r.attempts))
	c.triggers = append(c.triggers, r.trigger)
	c.started = append(c.started, r.start)
	c.durations = append(c.durations, r.res.Duration.Microseconds())
	c.requestHeaders = append(c.requestHeaders, headerJSON(r.res.RequestHeader))
	c.statuses = append(c.statuses, statusOrNil(r.res.StatusCode))
	var respHeaders *string
	if r.res.Header != nil {
		h := headerJSON(r.res.Header)
		respHeaders = &h
	}
	c.responseHeaders = append(c.responseHeaders, respHeaders)
	c.bodies = append(c.bodies, body)
	c.classes = append(c.classes, string(r.res.Class()))
	c.messages = append(c.messages, errMessage)
}

// deliveryColumnsUpdate are the deliveries' new states as column arrays.
type deliveryColumnsUpdate struct {
	ids, statuses, classes                []string
	attempts                              []int32
	nextAttempts, lastAttempts, completed []*time.Time
	codes                                 []*int32
}

func (c *deliveryColumnsUpdate) add(r attemptRecord) {
	status := delivery.StatusPending
	var next, completed *time.Time
	switch r.decision.Verdict {
	case delivery.Delivered:
		status, completed = delivery.StatusSucceeded, &r.now
	case delivery.Retry:
		at := r.now.Add(r.decision.RetryIn)
		next = &at
	default:
		status, completed = delivery.StatusFailed, &r.now
	}
	start := r.start
	c.ids = append(c.ids, r.t.ID)
	c.statuses = append(c.statuses, string(status))
	c.attempts = append(c.attempts, int32(r.attempts))
	c.nextAttempts = append(c.nextAttempts, next)
	c.lastAttempts = append(c.lastAttempts, &start)
	c.codes = append(c.codes, statusOrNil(r.res.StatusCode))
	c.classes = append(c.classes, string(r.res.Class()))
	c.completed = append(c.completed, completed)
}

// headerJSON keeps the first value of each header, for the attempt log.
func headerJSON(h http.Header) string {
	flat := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			flat[k] = v[0]
		}
	}
	b, _ := json.Marshal(flat) // a map of strings always marshals
	return string(b)
}

func statusOrNil(code int) *int32 {
	if code == 0 {
		return nil
	}
	v := int32(code)
	return &v
}

// queueDisable adds to b the disabling of an endpoint, with its reason, and
// the cancelling of its pending deliveries.
func queueDisable(b *pgx.Batch, endpointID, reason string, now time.Time) {
	b.Queue(`UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, updated_at = $3
		WHERE id = $1 AND status = 'enabled'`, endpointID, reason, now)
	b.Queue(cancelPendingSQL, endpointID, now)
}

// jitter returns a duration in [d/2, 3d/2).
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d)
}

// inflight caps concurrent attempts per endpoint in this process. Open-source
// River has no per-key concurrency limit, so a job over the cap snoozes.
type inflight struct {
	limit int
	mu    sync.Mutex
	n     map[string]int
}

func newInflight(limit int) *inflight { return &inflight{limit: limit, n: map[string]int{}} }

func (f *inflight) acquire(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[key] >= f.limit {
		return false
	}
	f.n[key]++
	return true
}

func (f *inflight) release(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n[key]--; f.n[key] <= 0 {
		delete(f.n, key)
	}
}
