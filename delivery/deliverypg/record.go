package deliverypg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
)

// attemptRecord is one attempt and its judgement, to be written.
type attemptRecord struct {
	t     *target
	res   delivery.AttemptResult
	start time.Time
	j     delivery.Judgement
	now   time.Time
}

// terminal reports whether the record ends its delivery for good or
// disables its endpoint: both raise an operational event.
func (r attemptRecord) terminal() bool {
	return r.j.Verdict == delivery.Exhausted || r.j.Disable != ""
}

// failed returns the delivery as it stands once an exhausted record is
// written: the object of its delivery.failed event.
func (r attemptRecord) failed() *delivery.Delivery {
	d := r.t.Delivery
	start, now := r.start, r.now
	d.Status, d.Held, d.HeldReason = delivery.StatusFailed, false, delivery.HoldNone
	d.Attempts, d.NextAttemptAt, d.LastAttemptAt, d.CompletedAt = r.j.Attempts, nil, &start, &now
	d.LastStatusCode, d.LastErrorClass = r.res.StatusCode, r.res.Class()
	d.AttemptLog = nil
	return &d
}

// bare returns the record without the text that came from outside (the
// endpoint's headers and body, the error's message): what is still worth
// keeping when a row with them cannot be written.
func (r attemptRecord) bare() attemptRecord {
	r.res.Header, r.res.Body = nil, nil
	if r.res.Err != nil {
		r.res.Err = &delivery.AttemptError{Class: r.res.Err.Class, Err: errUnrecordable}
	}
	return r
}

var errUnrecordable = errors.New("the details of this attempt could not be stored")

// recordBatch writes many attempts and their consequences, normally in one
// round trip (see writeRecords), and returns one error per record (nil:
// written). One bad record must never block the others: if the batch
// fails, each record is written on its own, and a record that still fails
// is written once more without its outside text. Only a record that fails
// even then reports an error, to its own job.
func (w *DeliverWorker) recordBatch(ctx context.Context, recs []attemptRecord) ([]error, error) {
	out := make([]error, len(recs))
	err := w.writeRecords(ctx, recs)
	if err == nil {
		return out, nil
	}
	if ctx.Err() != nil {
		return nil, err
	}
	if len(recs) > 1 {
		w.cfg.Logger.Warn("record attempts: batch failed, writing its records one by one", "records", len(recs), "err", err)
	}
	for i, r := range recs {
		if err := w.writeRecords(ctx, []attemptRecord{r}); err != nil {
			w.cfg.Logger.Warn("record attempt: writing it without the endpoint's text", "delivery_id", r.t.ID, "err", err)
			out[i] = w.writeRecords(ctx, []attemptRecord{r.bare()})
		}
	}
	return out, nil
}

// writeRecords writes attempts and their consequences in one pipelined
// batch, which pgx sends with a single Sync: one round trip, one implicit
// transaction, all or nothing.
//
// The batch does not wait for its WAL flush (synchronous_commit off for
// this transaction only): if Postgres crashes in the next few milliseconds
// the records may be lost, those deliveries then still look pending, River
// rescues or retries their jobs, and the events are sent again — one more
// request each, deduplicated by webhook-id, never a lost delivery and never
// a recorded attempt that did not happen. Events themselves are always
// committed synchronously.
//
// A batch holding a terminal record (a delivery's last failed attempt, a
// 410, or an attempt that finds its endpoint failing for too long) runs as
// an explicit, synchronously committed transaction instead:
// the endpoint's disabling and the operational events are written with the
// attempts, so neither is ever committed without the other.
//
// A delivered job is completed by River's batched completer once Work
// returns, not inside this transaction: should the process die in between,
// the rescued job finds the delivery succeeded and stops without a request.
func (w *DeliverWorker) writeRecords(ctx context.Context, recs []attemptRecord) error {
	var (
		a attemptColumns
		d deliveryColumnsUpdate
	)
	succeeded, failing := map[string]time.Time{}, map[string]time.Time{}
	disable := map[string]attemptRecord{}
	terminal := false
	for _, r := range recs {
		a.add(r)
		d.add(r)
		terminal = terminal || r.terminal()
		if r.j.Disable != "" {
			disable[r.t.EndpointID] = r
		}
		switch {
		case r.res.Succeeded():
			succeeded[r.t.EndpointID] = r.now
		case r.j.Verdict == delivery.Gone:
			// Disabled below: no outage to measure.
		default:
			if at, ok := failing[r.t.EndpointID]; !ok || r.start.Before(at) {
				failing[r.t.EndpointID] = r.start
			}
		}
	}

	b := &pgx.Batch{}
	if !terminal {
		b.Queue(`SELECT set_config('synchronous_commit', 'off', true), ` + genericPlanSettings)
	} else {
		// The transaction goes on with statements of its own (an endpoint's
		// disabling, River's inserts), so it keeps Postgres's usual plans.
		// Custom ones only, though: after five, Postgres would make a
		// generic plan of the statements shared with the path above to
		// compare, under the usual settings, and that path would then run
		// it (see genericPlan).
		b.Queue(`SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`)
	}
	// Locks are taken in one order everywhere: endpoints (by id) before
	// deliveries. A transaction that disables an endpoint holds it FOR
	// UPDATE and then cancels its pending deliveries; had this batch locked
	// one of those deliveries first and then waited for the endpoint, the
	// two would deadlock.
	if terminal {
		// All the endpoints the batch touches, locked up front in id order:
		// a concurrent disabling of one of them waits here, before this
		// transaction holds any delivery.
		touched := map[string]time.Time{}
		for _, m := range []map[string]time.Time{succeeded, failing} {
			maps.Copy(touched, m)
		}
		for endpointID := range disable {
			touched[endpointID] = time.Time{}
		}
		ids, _ := sortedKeys(touched)
		b.Queue(`SELECT id FROM webhook_endpoints WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids)
	}
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
	if len(failing) > 0 {
		// Likewise only the first failure of an outage writes the row: its
		// start is what the auto-disable rule measures (Policy.Judge).
		ids, at := sortedKeys(failing)
		b.Queue(`UPDATE webhook_endpoints e SET failing_since = u.at
			FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)
			WHERE e.id = u.id AND e.failing_since IS NULL`, ids, at)
	}

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
	// The attempt is always logged, but the delivery's state only moves on
	// if nothing else moved it meanwhile: an endpoint disabled while the
	// attempt was in flight has cancelled it, and a cancelled delivery must
	// not come back as pending.
	b.Queue(`UPDATE deliveries d SET status = u.status, attempts = u.attempts, next_attempt_at = u.next_attempt_at,
			last_attempt_at = u.last_attempt_at, last_status_code = u.code, last_error_class = u.class,
			completed_at = u.completed_at, `+setRareStatus(map[string]string{"status": "u.status", "attempts": "u.attempts"})+`
		FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::int[], $7::text[],
			$8::timestamptz[], $9::int[]) AS u(id, status, attempts, next_attempt_at, last_attempt_at, code, class, completed_at, seq)
		WHERE d.id = u.id AND d.status = $10 AND d.job_seq = u.seq`,
		d.ids, d.statuses, d.attempts, d.nextAttempts, d.lastAttempts, d.codes, d.classes, d.completed, d.seqs,
		delivery.StatusPending)
	if !terminal {
		if err := w.pool.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record attempts: %w", err)
		}
		return nil
	}
	var ops []func()
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		endpointIDs := slices.Sorted(maps.Keys(disable)) // one lock order for every batch
		for _, endpointID := range endpointIDs {
			r := disable[endpointID]
			reason := delivery.DisabledReasonGone
			if r.j.Disable == delivery.CauseFailing {
				reason = delivery.DisabledReasonFailing(w.cfg.Policy.DisableAfter, *r.t.FailingSince)
			}
			e, err := disableTx(ctx, tx, w.cfg.Inserter, endpointID, reason, r.now)
			if err != nil {
				return err
			}
			if e != nil {
				ops = append(ops, func() { w.ops.endpointDisabled(e, r.j.Disable) })
			}
		}
		for _, r := range recs {
			if r.j.Verdict != delivery.Exhausted {
				continue
			}
			f := r.failed()
			if _, err := failedTx(ctx, tx, w.cfg.Inserter, f, r.now); err != nil {
				return err
			}
			ops = append(ops, func() { w.ops.deliveryFailed(f) })
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record attempts: %w", err)
	}
	// Before the jobs that disabled them give up their slots (see inflight).
	committed := time.Now()
	for endpointID := range disable {
		w.inflight.endpointDisabled(endpointID, committed)
	}
	for _, report := range ops {
		report()
	}
	return nil
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
		errMessage = cleanText(r.res.Err.Error(), maxErrorMessage)
	}
	body := r.res.Body
	if body == nil {
		body = []byte{} // the column is NOT NULL; no answer is an empty body
	}
	c.ids = append(c.ids, id.New("att"))
	c.deliveryIDs = append(c.deliveryIDs, r.t.ID)
	c.numbers = append(c.numbers, int32(r.j.Attempts))
	c.triggers = append(c.triggers, r.j.Trigger)
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
	attempts, seqs                        []int32
	nextAttempts, lastAttempts, completed []*time.Time
	codes                                 []*int32
}

func (c *deliveryColumnsUpdate) add(r attemptRecord) {
	status := delivery.StatusPending
	var next, completed *time.Time
	switch r.j.Verdict {
	case delivery.Delivered:
		status, completed = delivery.StatusSucceeded, &r.now
	case delivery.Retry:
		at := r.now.Add(r.j.RetryIn)
		next = &at
	default:
		status, completed = delivery.StatusFailed, &r.now
	}
	start := r.start
	c.ids = append(c.ids, r.t.ID)
	c.statuses = append(c.statuses, string(status))
	c.attempts = append(c.attempts, int32(r.j.Attempts))
	c.seqs = append(c.seqs, int32(r.t.Seq))
	c.nextAttempts = append(c.nextAttempts, next)
	c.lastAttempts = append(c.lastAttempts, &start)
	c.codes = append(c.codes, statusOrNil(r.res.StatusCode))
	c.classes = append(c.classes, string(r.res.Class()))
	c.completed = append(c.completed, completed)
}

// Bounds of the text kept from an endpoint's answer. The body is kept as
// bytes (delivery.MaxResponseBody); headers and error messages are text,
// which Postgres refuses when it is not valid UTF-8 or holds a NUL.
const (
	maxErrorMessage  = 1024
	maxHeaders       = 64
	maxHeaderName    = 128
	maxHeaderValue   = 1024
	headersTruncated = "Herald-Truncated"
)

// cleanText makes outside text storable: valid UTF-8, no NUL, at most max
// bytes (cut at a rune boundary).
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// headerJSON keeps the first value of each header, for the attempt log,
// made storable: at most maxHeaders headers (by name), each name and value
// cleaned and bounded. A cut is marked by a Herald-Truncated header.
func headerJSON(h http.Header) string {
	names := make([]string, 0, len(h))
	for k, v := range h {
		if len(v) > 0 {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	flat := make(map[string]string, min(len(names), maxHeaders))
	for i, k := range names {
		if i == maxHeaders {
			flat[headersTruncated] = fmt.Sprintf("%d more headers not kept", len(names)-maxHeaders)
			break
		}
		flat[cleanText(k, maxHeaderName)] = cleanText(h[k][0], maxHeaderValue)
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
