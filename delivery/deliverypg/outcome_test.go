package deliverypg

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/webhook"
)

// outcomeFixture is one pending delivery to a sink, with River stopped: the
// test works the delivery's job itself with rivertest and reads what River
// was told.
type outcomeFixture struct {
	b          *testBundle
	merchantID string
	endpoint   *delivery.Endpoint
	sink       *sinktest.Sink
	d          *delivery.Delivery
}

func newOutcomeFixture(t *testing.T, handler sinktest.Handler) *outcomeFixture {
	t.Helper()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	f := &outcomeFixture{b: b, merchantID: b.merchant(t, "Acme"), sink: newSink(t, handler)}
	f.endpoint = b.endpoint(t, f.merchantID, hookURL(f.sink), "*")
	b.publish(t, f.merchantID, webhook.TypeChargeSucceeded)
	f.d = b.deliveries(t, f.merchantID, delivery.DeliveryFilter{})[0]
	return f
}

// work runs one job of the delivery, with seq, through the real worker.
func (f *outcomeFixture) work(t *testing.T, seq int) *rivertest.WorkResult {
	t.Helper()
	return f.workWith(t, seq, nil)
}

// workWith works the delivery's job inserted with opts (its metadata: how
// often River already snoozed it).
func (f *outcomeFixture) workWith(t *testing.T, seq int, opts *river.InsertOpts) *rivertest.WorkResult {
	t.Helper()
	ctx := context.Background()
	w := rivertest.NewWorker(t, riverpgxv5.New(f.b.pool), &river.Config{
		Test: river.TestConfig{DisableUniqueEnforcement: true}, // the delivery's own job is already in the table
	}, river.Worker[DeliverArgs](f.b.worker))
	tx, err := f.b.pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	res, err := w.Work(ctx, t, tx, DeliverArgs{DeliveryID: f.d.ID, Seq: seq}, opts)
	require.NoError(t, err)
	return res
}

func (f *outcomeFixture) delivery(t *testing.T) *delivery.Delivery {
	t.Helper()
	d, err := f.b.svc.FindDelivery(context.Background(), f.merchantID, f.d.ID)
	require.NoError(t, err)
	return d
}

func (f *outcomeFixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := f.b.pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

// requireCancelled checks River recorded the job cancelled with reason.
func requireCancelled(t *testing.T, res *rivertest.WorkResult, reason string) {
	t.Helper()
	require.Equal(t, river.EventKindJobCancelled, res.EventKind)
	require.Equal(t, rivertype.JobStateCancelled, res.Job.State)
	require.NotEmpty(t, res.Job.Errors)
	require.Contains(t, res.Job.Errors[len(res.Job.Errors)-1].Error, reason)
}

// requireSnoozed checks River recorded the job snoozed for about d, without
// spending one of River's attempts.
func requireSnoozed(t *testing.T, res *rivertest.WorkResult, min, max time.Duration) {
	t.Helper()
	require.Equal(t, river.EventKindJobSnoozed, res.EventKind)
	in := time.Until(res.Job.ScheduledAt)
	require.GreaterOrEqual(t, in, min-time.Second)
	require.LessOrEqual(t, in, max)
}

// Every outcome of a delivery job, as River is told it, and what the
// delivery's row says afterwards.
func TestDeliverJobOutcomes(t *testing.T) {
	t.Parallel()

	t.Run("delivered", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		res := f.work(t, 0)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		d := f.delivery(t)
		require.Equal(t, delivery.StatusSucceeded, d.Status)
		require.Equal(t, 1, d.Attempts)
		require.Len(t, d.AttemptLog, 1)
		require.Equal(t, delivery.TriggerInitial, d.AttemptLog[0].Trigger)
		require.Len(t, f.sink.Requests(), 1)
	})

	t.Run("retry snoozes for the schedule", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, answer(http.StatusInternalServerError))
		res := f.work(t, 0)
		requireSnoozed(t, res, 48*time.Minute, 72*time.Minute) // the fixture's schedule: one hour ±20 %
		d := f.delivery(t)
		require.Equal(t, delivery.StatusPending, d.Status)
		require.Equal(t, 1, d.Attempts)
		require.WithinDuration(t, res.Job.ScheduledAt, *d.NextAttemptAt, time.Second)
	})

	t.Run("an open breaker snoozes without an attempt", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		for range 5 {
			done, _, ok := f.b.breakers.Allow(f.endpoint.ID)
			require.True(t, ok)
			done(false)
		}
		res := f.work(t, 0)
		requireSnoozed(t, res, time.Hour-time.Second, time.Hour+time.Second) // the fixture's breakers open for an hour
		require.Zero(t, f.delivery(t).Attempts)
		require.Empty(t, f.sink.Requests())
	})

	t.Run("a full in-flight cap snoozes without an attempt, longer for a job put off again and again", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		for range delivery.DefaultInflightPerEndpoint {
			require.Empty(t, f.b.worker.inflight.acquire(f.endpoint.ID, f.merchantID, time.Now()))
		}
		res := f.work(t, 0)
		requireSnoozed(t, res, 250*time.Millisecond, 750*time.Millisecond)
		require.Zero(t, f.delivery(t).Attempts)

		// Snoozed four times: once after its one failed attempt, three
		// times without an attempt. 4 s, jittered by ±50 %.
		f.exec(t, `UPDATE deliveries d SET attempts = 1, `+setRareStatus(map[string]string{"attempts": "1"})+` WHERE id = $1`, f.d.ID)
		res = f.workWith(t, 0, &river.InsertOpts{Metadata: []byte(`{"snoozes": 4}`)})
		requireSnoozed(t, res, 2*time.Second, 6*time.Second)
		require.Equal(t, 1, f.delivery(t).Attempts)
		require.Empty(t, f.sink.Requests())
	})

	t.Run("410 cancels and disables", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, answer(http.StatusGone))
		readBefore := time.Now()
		requireCancelled(t, f.work(t, 0), "410 Gone")
		require.Equal(t, delivery.StatusFailed, f.delivery(t).Status)
		e, err := f.b.svc.FindEndpoint(context.Background(), f.merchantID, f.endpoint.ID)
		require.NoError(t, err)
		require.Equal(t, delivery.EndpointDisabled, e.Status)
		require.Equal(t, delivery.DisabledReasonGone, e.DisabledReason)
		// A job of this process that read the endpoint before that is told
		// to read it again rather than take the slot this one gave up.
		require.Equal(t, staleTarget, f.b.worker.inflight.acquire(f.endpoint.ID, f.merchantID, readBefore))
	})

	t.Run("exhausted cancels and fails", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, answer(http.StatusInternalServerError))
		f.exec(t, `UPDATE deliveries d SET attempts = 1, `+setRareStatus(map[string]string{"attempts": "1"})+` WHERE id = $1`, f.d.ID) // the fixture's schedule allows two
		requireCancelled(t, f.work(t, 0), "failed after 2 attempts")
		d := f.delivery(t)
		require.Equal(t, delivery.StatusFailed, d.Status)
		require.Equal(t, 2, d.Attempts)
		require.Nil(t, d.NextAttemptAt)
	})

	t.Run("a long outage cancels and disables", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, answer(http.StatusServiceUnavailable))
		f.exec(t, `UPDATE webhook_endpoints SET failing_since = now() - interval '5 days' WHERE id = $1`, f.endpoint.ID)
		requireCancelled(t, f.work(t, 0), delivery.ErrEndpointDisabled.Error())
		require.Equal(t, delivery.StatusCanceled, f.delivery(t).Status, "its endpoint's pending deliveries are cancelled")
		e, err := f.b.svc.FindEndpoint(context.Background(), f.merchantID, f.endpoint.ID)
		require.NoError(t, err)
		require.Contains(t, e.DisabledReason, "no successful delivery for 5 days")
	})

	t.Run("a disabled endpoint cancels without an attempt", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		// Disabled behind the delivery's back (its own cancel lost a race).
		f.exec(t, `UPDATE webhook_endpoints SET status = 'disabled' WHERE id = $1`, f.endpoint.ID)
		requireCancelled(t, f.work(t, 0), delivery.ErrEndpointDisabled.Error())
		require.Equal(t, delivery.StatusCanceled, f.delivery(t).Status)
		require.Empty(t, f.sink.Requests())
	})

	t.Run("a stale job completes without an attempt", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		f.exec(t, `UPDATE deliveries d SET job_seq = 1, `+setRareStatus(map[string]string{"job_seq": "1"})+` WHERE id = $1`, f.d.ID) // a redrive or resume enqueued a newer job
		res := f.work(t, 0)
		require.Equal(t, river.EventKindJobCompleted, res.EventKind)
		require.Equal(t, delivery.StatusPending, f.delivery(t).Status)
		require.Zero(t, f.delivery(t).Attempts)
		require.Empty(t, f.sink.Requests())
	})

	t.Run("a paused endpoint holds the delivery", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		f.b.update(t, f.merchantID, f.endpoint.ID, delivery.EndpointParams{Paused: ptr(true)})
		requireCancelled(t, f.work(t, 0), "endpoint paused")
		d := f.delivery(t)
		require.Equal(t, delivery.StatusPending, d.Status)
		require.True(t, d.Held)
		require.Equal(t, delivery.HoldEndpointPaused, d.HeldReason)
		require.Empty(t, f.sink.Requests())

		// Resumed: a new job (a new seq) takes it; the old one is stale.
		f.b.update(t, f.merchantID, f.endpoint.ID, delivery.EndpointParams{Paused: ptr(false)})
		require.Equal(t, river.EventKindJobCompleted, f.work(t, 1).EventKind)
		require.Equal(t, delivery.StatusSucceeded, f.delivery(t).Status)
	})

	t.Run("a delivery already done completes", func(t *testing.T) {
		t.Parallel()
		f := newOutcomeFixture(t, nil)
		require.Equal(t, river.EventKindJobCompleted, f.work(t, 0).EventKind)
		require.Equal(t, river.EventKindJobCompleted, f.work(t, 0).EventKind, "a rescued job after its success")
		require.Len(t, f.sink.Requests(), 1, "no second request")
	})
}
