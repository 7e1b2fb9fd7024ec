package deliverypg

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
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
	goneEP := b.endpoint(t, m, goneSink.url(), webhook.TypeChargeFailed)
	b.endpoint(t, m, named.url(), webhook.TypeWebhookEndpointDisabled)
	b.endpoint(t, m, star.url(), "*")
	b.endpoint(t, m, unsubscribed.url(), webhook.TypeCheckoutSessionCompleted)
	offEP := b.endpoint(t, m, newSink(t, nil).url(), "*")
	b.update(t, m, offEP.ID, delivery.EndpointParams{Status: ptr(string(delivery.EndpointDisabled))})
	b.endpoint(t, other, foreign.url(), "*")
	named.waitType(t, webhook.TypeWebhookEndpointDisabled, 1) // offEP's own, manual
	star.waitType(t, webhook.TypeWebhookEndpointDisabled, 1)

	b.publish(t, m, webhook.TypeChargeFailed)
	for _, s := range []*sink{named, star} {
		reqs := s.waitType(t, webhook.TypeWebhookEndpointDisabled, 2)
		obj := object(t, reqs[1].Event)
		require.Equal(t, goneEP.ID, obj["id"])
		require.Equal(t, "webhook_endpoint", obj["object"])
		require.Equal(t, "disabled", obj["status"])
		require.Equal(t, delivery.DisabledReasonGone, obj["disabled_reason"])
		require.NotContains(t, string(reqs[1].Event.Data.Object), "whsec_", "the event never carries the secret")
	}
	require.Len(t, goneSink.requests(), 1, "the disabled endpoint is never told about itself")
	require.Empty(t, unsubscribed.requests())
	require.Empty(t, foreign.requests(), "other merchants hear nothing")

	ev := star.ofType(webhook.TypeWebhookEndpointDisabled)[1].Event
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
	downEP := b.endpoint(t, m, down.url(), webhook.TypeChargeFailed)
	b.endpoint(t, m, watcher.url(), webhook.TypeWebhookEndpointDisabled)
	_, err := b.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET failing_since = now() - interval '121 hours' WHERE id = $1`, downEP.ID)
	require.NoError(t, err)

	for range 5 {
		b.publish(t, m, webhook.TypeChargeFailed)
	}
	obj := object(t, watcher.waitType(t, webhook.TypeWebhookEndpointDisabled, 1)[0].Event)
	require.Equal(t, downEP.ID, obj["id"])
	require.Contains(t, obj["disabled_reason"], "no successful delivery for 5 days")
	waitFor(t, 10*time.Second, "the pending deliveries to be cancelled", func() bool {
		return len(b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: downEP.ID, Status: delivery.StatusPending})) == 0
	})
	require.Len(t, watcher.ofType(webhook.TypeWebhookEndpointDisabled), 1, "one transition, one event")
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
	failingEP := b.endpoint(t, m, failing.url(), "*")
	watcherEP := b.endpoint(t, m, watcher.url(), webhook.TypeDeliveryFailed)

	evt := b.publish(t, m, webhook.TypeCheckoutSessionCompleted)
	reqs := watcher.waitType(t, webhook.TypeDeliveryFailed, 1)
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
	require.Empty(t, failing.ofType(webhook.TypeDeliveryFailed), "never sent to the endpoint it is about")

	// Now the watcher breaks too. A delivery.failed that fails to reach it
	// is reported nowhere: operational events are never raised about each
	// other.
	watcher.setHandler(answer(http.StatusInternalServerError))
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
