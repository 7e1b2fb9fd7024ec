package deliverypg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

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
// attempt completes the job inside the transaction that records it
// (JobCompleteTx); a failed attempt that will be retried snoozes the job for
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
	return &DeliverWorker{pool: pool, cfg: cfg, inflight: newInflight(cfg.InflightPerEndpoint)}
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
	disabled, err := w.record(recordCtx, job, t, res, start, attempts, trigger, decision)
	if err != nil {
		return err
	}
	w.cfg.Metrics.observe(res, t.Attempts == 0, start.Sub(t.Created))

	switch {
	case disabled:
		return river.JobCancel(delivery.ErrEndpointDisabled)
	case decision.Verdict == delivery.Delivered:
		return nil // completed inside the record transaction
	case decision.Verdict == delivery.Retry:
		return river.JobSnooze(decision.RetryIn)
	case decision.Verdict == delivery.Exhausted:
		w.cfg.Metrics.failed.Inc()
		return river.JobCancel(fmt.Errorf("delivery %s failed after %d attempts", t.ID, attempts-t.RedriveBase))
	}
	return river.JobCancel(errors.New("the endpoint answered 410 Gone and was disabled"))
}

func (w *DeliverWorker) load(ctx context.Context, deliveryID string) (*target, error) {
	var t target
	err := w.pool.QueryRow(ctx, `SELECT d.id, d.merchant_id, d.event_id, d.event_type, d.endpoint_id, d.status, d.held,
		d.attempts, d.redrive_base, d.job_seq, d.last_attempt_at, d.created_at,
		e.url, e.status, e.paused, e.deleted_at IS NOT NULL, e.secret_sealed, e.previous_secret_sealed,
		e.previous_secret_expires_at, ev.body::text
		FROM deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN events ev ON ev.id = d.event_id
		WHERE d.id = $1`, deliveryID).Scan(&t.ID, &t.MerchantID, &t.EventID, &t.EventType, &t.EndpointID, &t.Status,
		&t.Held, &t.Attempts, &t.RedriveBase, &t.Seq, &t.LastAttemptAt, &t.Created, &t.URL, &t.EndpointStatus,
		&t.Paused, &t.Deleted, &t.Secret, &t.PreviousSecret, &t.PreviousExpires, &t.Body)
	if err != nil {
		return nil, notFound(err, "load delivery")
	}
	return &t, nil
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

// record writes the attempt and its consequences in one transaction, and
// reports whether the endpoint ended up disabled.
func (w *DeliverWorker) record(ctx context.Context, job *river.Job[DeliverArgs], t *target, res delivery.AttemptResult,
	start time.Time, attempts int, trigger string, decision delivery.Decision,
) (disabled bool, err error) {
	now := w.cfg.Now()
	status, completedAt := delivery.StatusPending, (*time.Time)(nil)
	var nextAttempt *time.Time
	switch decision.Verdict {
	case delivery.Delivered:
		status, completedAt = delivery.StatusSucceeded, &now
	case delivery.Retry:
		at := now.Add(decision.RetryIn)
		nextAttempt = &at
	default:
		status, completedAt = delivery.StatusFailed, &now
	}
	errMessage := ""
	if res.Err != nil {
		errMessage = res.Err.Error()
	}
	body := res.Body
	if body == nil {
		body = []byte{} // the column is NOT NULL; no answer is an empty body
	}
	err = pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us,
			request_headers, response_status, response_headers, response_body, error_class, error_message)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			id.New("att"), t.ID, attempts, trigger, start, res.Duration.Microseconds(), flatten(res.RequestHeader),
			nullIfZero(res.StatusCode), flatten(res.Header), body, string(res.Class()), errMessage)
		if err != nil {
			return fmt.Errorf("insert attempt: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at = $4, last_attempt_at = $5,
			last_status_code = $6, last_error_class = $7, completed_at = $8 WHERE id = $1`,
			t.ID, status, attempts, nextAttempt, start, nullIfZero(res.StatusCode), string(res.Class()), completedAt)
		if err != nil {
			return fmt.Errorf("update delivery: %w", err)
		}
		switch {
		case res.Succeeded():
			_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET last_success_at = $2, failing_since = NULL WHERE id = $1`, t.EndpointID, now)
			if err != nil {
				return fmt.Errorf("record endpoint success: %w", err)
			}
			_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		case decision.Verdict == delivery.Gone:
			disabled = true
			return disableTx(ctx, tx, t.EndpointID, delivery.DisabledReasonGone, now)
		}
		var failingSince time.Time
		err = tx.QueryRow(ctx, `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2)
			WHERE id = $1 RETURNING failing_since`, t.EndpointID, start).Scan(&failingSince)
		if err != nil {
			return fmt.Errorf("record endpoint failure: %w", err)
		}
		if now.Sub(failingSince) >= w.cfg.DisableAfter {
			disabled = true
			return disableTx(ctx, tx, t.EndpointID, delivery.DisabledReasonFailing(w.cfg.DisableAfter, failingSince), now)
		}
		return nil
	})
	return disabled, err
}

// disableTx disables an endpoint with a reason and cancels its pending
// deliveries.
func disableTx(ctx context.Context, tx pgx.Tx, endpointID, reason string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, updated_at = $3
		WHERE id = $1 AND status = 'enabled'`, endpointID, reason, now)
	if err != nil {
		return fmt.Errorf("disable endpoint: %w", err)
	}
	return cancelPendingTx(ctx, tx, endpointID, now)
}

// flatten keeps the first value of each header, for the attempt log.
func flatten(h http.Header) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

func nullIfZero(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
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
