package deliverypg

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/webhook"
)

// An endpoint that answers 410 is disabled, and the merchant's other
// endpoints subscribed to webhook_endpoint.disabled (by name or "*") are
// told, in the same transaction; the endpoint itself, endpoints not
// subscribed and other merchants are not. A disabled endpoint gets the
// event as a skipped delivery.
func TestEndpointDisabledEventOn410(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m, other := b.merchant(t, "Acme"), b.merchant(t, "Other")
	goneSink, named, star, unsubscribed, foreign := newSink(t, answer(http.StatusGone)), newSink(t, nil), newSink(t, nil), newSink(t, nil), newSink(t, nil)
	goneEP := b.endpoint(t, m, hookURL(goneSink), webhook.TypeChargeFailed)
	b.endpoint(t, m, hookURL(named), webhook.TypeWebhookEndpointDisabled)
	b.endpoint(t, m, hookURL(star), "*")
	b.endpoint(t, m, hookURL(unsubscribed), webhook.TypeCheckoutSessionCompleted)
	offEP := b.endpoint(t, m, hookURL(newSink(t, nil)), "*")
	b.update(t, m, offEP.ID, delivery.EndpointParams{Status: ptr(string(delivery.EndpointDisabled))})
	b.endpoint(t, other, hookURL(foreign), "*")
	named.WaitType(t, webhook.TypeWebhookEndpointDisabled, 1) // offEP's own, manual
	star.WaitType(t, webhook.TypeWebhookEndpointDisabled, 1)

	b.publish(t, m, webhook.TypeChargeFailed)
	for _, s := range []*sinktest.Sink{named, star} {
		reqs := s.WaitType(t, webhook.TypeWebhookEndpointDisabled, 2)
		obj := object(t, reqs[1].Event)
		require.Equal(t, goneEP.ID, obj["id"])
		require.Equal(t, "webhook_endpoint", obj["object"])
		require.Equal(t, "disabled", obj["status"])
		require.Equal(t, delivery.DisabledReasonGone, obj["disabled_reason"])
		require.NotContains(t, string(reqs[1].Event.Data.Object), "whsec_", "the event never carries the secret")
	}
	require.Len(t, goneSink.Requests(), 1, "the disabled endpoint is never told about itself")
	require.Empty(t, unsubscribed.Requests())
	require.Empty(t, foreign.Requests(), "other merchants hear nothing")

	ev := star.OfType(webhook.TypeWebhookEndpointDisabled)[1].Event
	for _, d := range b.deliveries(t, m, delivery.DeliveryFilter{EventID: ev.ID}) {
		require.NotEqual(t, goneEP.ID, d.EndpointID, "no delivery at all to the endpoint it is about")
		if d.EndpointID == offEP.ID {
			require.Equal(t, delivery.StatusSkipped, d.Status, "a disabled endpoint misses it like any event")
		}
	}
	require.Len(t, b.deliveries(t, m, delivery.DeliveryFilter{EventID: ev.ID}), 3, "named, star and the disabled one")

	require.Equal(t, 1.0, b.metric(t, "herald_endpoints_disabled_total", "cause", "gone"))
	require.Equal(t, 1.0, b.metric(t, "herald_endpoints_disabled_total", "cause", "manual"))
	logs := b.logs.String()
	require.Equal(t, 2, strings.Count(logs, `level=WARN msg="webhook endpoint disabled"`), logs)
	require.Contains(t, logs, "endpoint_id="+goneEP.ID+" merchant_id="+m+" cause=gone")
}

// An endpoint without a single success for DisableAfter is disabled at its
// next failure, with webhook_endpoint.disabled; several failures racing to
// disable it raise one event.
func TestEndpointDisabledEventAfterLongOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := b.merchant(t, "Acme")
	down, watcher := newSink(t, answer(http.StatusServiceUnavailable)), newSink(t, nil)
	downEP := b.endpoint(t, m, hookURL(down), webhook.TypeChargeFailed)
	b.endpoint(t, m, hookURL(watcher), webhook.TypeWebhookEndpointDisabled)
	_, err := b.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET failing_since = now() - interval '121 hours' WHERE id = $1`, downEP.ID)
	require.NoError(t, err)

	for range 5 {
		b.publish(t, m, webhook.TypeChargeFailed)
	}
	obj := object(t, watcher.WaitType(t, webhook.TypeWebhookEndpointDisabled, 1)[0].Event)
	require.Equal(t, downEP.ID, obj["id"])
	require.Contains(t, obj["disabled_reason"], "no successful delivery for 5 days")
	waitFor(t, 10*time.Second, "the pending deliveries to be cancelled", func() bool {
		return len(b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: downEP.ID, Status: delivery.StatusPending})) == 0
	})
	require.Len(t, watcher.OfType(webhook.TypeWebhookEndpointDisabled), 1, "one transition, one event")
	require.Equal(t, 1.0, b.metric(t, "herald_endpoints_disabled_total", "cause", "failing"))
}

// A delivery whose last attempt fails raises delivery.failed to the
// merchant's other endpoints, never to its own; a failed delivery of an
// operational event raises nothing (no cascade).
func TestDeliveryFailedEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *testConfig) {
		c.worker.Policy.Retry.Schedule = []time.Duration{10 * time.Millisecond} // two attempts
	})
	m := b.merchant(t, "Acme")
	failing, watcher := newSink(t, answer(http.StatusInternalServerError)), newSink(t, nil)
	failingEP := b.endpoint(t, m, hookURL(failing), "*")
	watcherEP := b.endpoint(t, m, hookURL(watcher), webhook.TypeDeliveryFailed)

	evt := b.publish(t, m, webhook.TypeCheckoutSessionCompleted)
	reqs := watcher.WaitType(t, webhook.TypeDeliveryFailed, 1)
	obj := object(t, reqs[0].Event)
	failed := b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: failingEP.ID, EventID: evt})
	require.Len(t, failed, 1)
	require.Equal(t, failed[0].ID, obj["id"])
	require.Equal(t, "delivery", obj["object"])
	require.Equal(t, "failed", obj["status"])
	require.Equal(t, evt, obj["event"])
	require.Equal(t, failingEP.ID, obj["endpoint"])
	require.InDelta(t, 2, obj["attempt_count"], 0)
	require.InDelta(t, 500, obj["last_status_code"], 0)
	require.Nil(t, obj["next_attempt_at"])
	require.Empty(t, failing.OfType(webhook.TypeDeliveryFailed), "never sent to the endpoint it is about")

	// Now the watcher breaks too. A delivery.failed that fails to reach it
	// is reported nowhere: operational events are never raised about each
	// other.
	watcher.SetHandler(answer(http.StatusInternalServerError))
	b.publish(t, m, webhook.TypeCheckoutSessionCompleted)
	waitFor(t, 20*time.Second, "the second delivery.failed to fail", func() bool {
		return len(b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: watcherEP.ID, Status: delivery.StatusFailed})) == 1
	})
	events, _, err := b.svc.ListEvents(context.Background(), m, delivery.EventFilter{Type: webhook.TypeDeliveryFailed, Limit: 100})
	require.NoError(t, err)
	require.Len(t, events, 2, "one per failed payment-event delivery, none about the failed delivery.failed")
	require.Equal(t, 3.0, b.metric(t, "herald_deliveries_failed_total"), "every exhausted delivery is counted")
	require.Equal(t, 3, strings.Count(b.logs.String(), `level=WARN msg="webhook delivery failed"`))
}

// An event that matches a disabled endpoint is not dropped: it gets a
// skipped delivery (no job, no attempt), which a redrive sends once the
// endpoint is enabled again.
func TestDisabledEndpointSkipsAndRedriveSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	live, off := newSink(t, nil), newSink(t, nil)
	liveEP := b.endpoint(t, m, hookURL(live), webhook.TypeCheckoutSessionCompleted)
	offEP := b.endpoint(t, m, hookURL(off), webhook.TypeCheckoutSessionCompleted)
	b.update(t, m, offEP.ID, delivery.EndpointParams{Status: ptr(string(delivery.EndpointDisabled))})

	evt := b.publish(t, m, webhook.TypeCheckoutSessionCompleted)
	b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: liveEP.ID, EventID: evt, Status: delivery.StatusSucceeded}, 1)
	skipped := b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: offEP.ID})
	require.Len(t, skipped, 1)
	d := skipped[0]
	require.Equal(t, delivery.StatusSkipped, d.Status)
	require.Equal(t, evt, d.EventID)
	require.Zero(t, d.Attempts)
	require.False(t, d.Held)
	require.Nil(t, d.NextAttemptAt, "a skipped delivery is not on its way")
	require.NotNil(t, d.CompletedAt)
	require.Empty(t, b.jobs(t, d.ID), "no job for a skipped delivery")
	require.Empty(t, off.Requests())
	require.Equal(t, 1.0, b.metric(t, "herald_deliveries", "status", "skipped"))
	require.Equal(t, 0.0, b.metric(t, "herald_deliveries", "status", "failed"))
	require.Equal(t, 1.0, b.metric(t, "herald_endpoints", "status", "disabled"))

	// While the endpoint is disabled, a redrive of it is refused.
	_, err := b.svc.RedriveDelivery(ctx, m, d.ID)
	require.ErrorIs(t, err, delivery.ErrEndpointDisabled)

	// Enabled again: nothing is sent unless asked.
	b.update(t, m, offEP.ID, delivery.EndpointParams{Status: ptr(string(delivery.EndpointEnabled))})
	rd, err := b.svc.CreateRedrive(ctx, m, delivery.RedriveParams{EndpointID: offEP.ID, Status: delivery.StatusSkipped, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, 1, rd.Matched)
	require.Empty(t, off.Requests())

	// "Send what it missed": a bulk redrive of its skipped deliveries.
	rd, err = b.svc.CreateRedrive(ctx, m, delivery.RedriveParams{EndpointID: offEP.ID, Status: delivery.StatusSkipped})
	require.NoError(t, err)
	require.Equal(t, 1, rd.Matched)
	reqs := off.WaitType(t, webhook.TypeCheckoutSessionCompleted, 1)
	require.Equal(t, evt, reqs[0].Event.ID)
	got := b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: offEP.ID, Status: delivery.StatusSucceeded}, 1)[0]
	full, err := b.svc.FindDelivery(ctx, m, got.ID)
	require.NoError(t, err)
	require.Len(t, full.AttemptLog, 1)
	require.Equal(t, delivery.TriggerRedrive, full.AttemptLog[0].Trigger)
	require.Len(t, live.Requests(), 1, "the enabled endpoint got the event once")
}

// A deleted endpoint gets nothing, not even a skipped delivery; a paused
// one holds its deliveries (pending, no job) as before.
func TestDeletedAndPausedEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	gone := b.endpoint(t, m, hookURL(newSink(t, nil)), "*")
	require.NoError(t, b.svc.DeleteEndpoint(ctx, m, gone.ID))
	paused := b.endpoint(t, m, hookURL(newSink(t, nil)), "*")
	b.update(t, m, paused.ID, delivery.EndpointParams{Paused: ptr(true)})

	b.publish(t, m, webhook.TypeChargeSucceeded)
	list := b.deliveries(t, m, delivery.DeliveryFilter{})
	require.Len(t, list, 1)
	require.Equal(t, paused.ID, list[0].EndpointID)
	require.Equal(t, delivery.StatusPending, list[0].Status)
	require.True(t, list[0].Held)
	require.Equal(t, delivery.HoldEndpointPaused, list[0].HeldReason)
	require.Nil(t, list[0].NextAttemptAt, "a held delivery goes when the endpoint is resumed, at no set time")
	require.Empty(t, b.jobs(t, list[0].ID))
}

// A test ping reaches the endpoint it was sent to, signed with its secret,
// and no other endpoint, "*" included; its failure raises no
// delivery.failed; a paused endpoint holds it; a disabled or foreign one
// refuses it.
func TestSendTestEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *testConfig) {
		c.worker.Policy.Retry.Schedule = []time.Duration{10 * time.Millisecond} // two attempts
	})
	ctx := context.Background()
	m, other := b.merchant(t, "Acme"), b.merchant(t, "Other")
	target, star, watcher := newSink(t, nil), newSink(t, nil), newSink(t, nil)
	targetEP := b.endpoint(t, m, hookURL(target), webhook.TypeCheckoutSessionCompleted)
	b.endpoint(t, m, hookURL(star), "*")
	watcherEP := b.endpoint(t, m, hookURL(watcher), webhook.TypeDeliveryFailed)

	d, err := b.svc.SendTestEvent(ctx, m, targetEP.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.TypeTestPing, d.EventType)
	require.Equal(t, targetEP.ID, d.EndpointID)
	req := target.WaitType(t, webhook.TypeTestPing, 1)[0]
	require.Equal(t, d.EventID, req.Event.ID)
	require.Equal(t, d.EventID, req.Header.Get("webhook-id"))
	obj := object(t, req.Event)
	require.Equal(t, targetEP.ID, obj["id"], "data.object is the endpoint")
	require.NotContains(t, string(req.Event.Data.Object), "whsec_")
	v, err := webhook.NewVerifier(targetEP.Secret)
	require.NoError(t, err)
	require.NoError(t, v.Verify(req.Header, req.Body), "signed with the endpoint's secret")
	b.waitDeliveries(t, m, delivery.DeliveryFilter{EventID: d.EventID, Status: delivery.StatusSucceeded}, 1)
	require.Len(t, b.deliveries(t, m, delivery.DeliveryFilter{EventID: d.EventID}), 1, "one delivery, to the target only")

	// A failing ping is not a failed payment event: nobody is told.
	target.SetHandler(answer(http.StatusInternalServerError))
	failed, err := b.svc.SendTestEvent(ctx, m, targetEP.ID)
	require.NoError(t, err)
	b.waitDeliveries(t, m, delivery.DeliveryFilter{EventID: failed.EventID, Status: delivery.StatusFailed}, 1)
	events, _, err := b.svc.ListEvents(ctx, m, delivery.EventFilter{Type: webhook.TypeDeliveryFailed, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events, "a failed test ping raises no delivery.failed")
	require.Empty(t, b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: watcherEP.ID}))
	require.Empty(t, star.Requests(), "the \"*\" endpoint never hears a ping meant for another")

	paused := b.update(t, m, targetEP.ID, delivery.EndpointParams{Paused: ptr(true)})
	held, err := b.svc.SendTestEvent(ctx, m, paused.ID)
	require.NoError(t, err)
	require.Equal(t, delivery.StatusPending, held.Status)
	require.Equal(t, delivery.HoldEndpointPaused, held.HeldReason)
	require.Empty(t, b.jobs(t, held.ID), "held: no job until resumed")

	b.update(t, m, targetEP.ID, delivery.EndpointParams{Status: ptr(string(delivery.EndpointDisabled))})
	_, err = b.svc.SendTestEvent(ctx, m, targetEP.ID)
	require.ErrorIs(t, err, delivery.ErrEndpointDisabled)
	_, err = b.svc.SendTestEvent(ctx, other, watcherEP.ID)
	require.ErrorIs(t, err, delivery.ErrNotFound, "another merchant's endpoint")
}

// Disabling an endpoint cancels a pending delivery that another
// transaction is putting off at that very moment (a worker over a cap
// marks it deferred, which moves it from the queued way of finding pending
// deliveries to the rare one): the disabling waits for that row, sees it
// moved, and still finds it. It used to stay pending until its job woke.
func TestDisableCancelsADeliveryPutOffMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	m := b.merchant(t, "Acme")
	ep := b.endpoint(t, m, "https://example.com/hooks", "*")
	b.publish(t, m, webhook.TypeChargeSucceeded)
	d := b.deliveries(t, m, delivery.DeliveryFilter{})[0]

	// The worker's put-off, not yet committed: it holds the delivery's row.
	putOff, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer putOff.Rollback(ctx) //nolint:errcheck // committed below
	_, err = putOff.Exec(ctx, `UPDATE deliveries d SET deferred = true, `+
		setRareStatus(map[string]string{"deferred": "true"})+` WHERE id = $1`, d.ID)
	require.NoError(t, err)

	disabling, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer disabling.Rollback(ctx) //nolint:errcheck // committed below
	var pid int
	require.NoError(t, disabling.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	done := make(chan error, 1)
	go func() { done <- cancelPendingTx(ctx, disabling, ep.ID, time.Now()) }()

	// Once the cancelling waits for the row, the put-off commits.
	waitFor(t, 10*time.Second, "the cancelling to wait for the delivery's row", func() bool {
		var waiting bool
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&waiting))
		return waiting
	})
	require.NoError(t, putOff.Commit(ctx))
	require.NoError(t, <-done)
	require.NoError(t, disabling.Commit(ctx))

	got := b.deliveries(t, m, delivery.DeliveryFilter{})[0]
	require.Equal(t, delivery.StatusCanceled, got.Status)
}
