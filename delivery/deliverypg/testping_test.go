package deliverypg

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

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
	targetEP := b.endpoint(t, m, target.url(), webhook.TypeCheckoutSessionCompleted)
	b.endpoint(t, m, star.url(), "*")
	watcherEP := b.endpoint(t, m, watcher.url(), webhook.TypeDeliveryFailed)

	d, err := b.svc.SendTestEvent(ctx, m, targetEP.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.TypeTestPing, d.EventType)
	require.Equal(t, targetEP.ID, d.EndpointID)
	req := target.waitType(t, webhook.TypeTestPing, 1)[0]
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
	target.setHandler(answer(http.StatusInternalServerError))
	failed, err := b.svc.SendTestEvent(ctx, m, targetEP.ID)
	require.NoError(t, err)
	b.waitDeliveries(t, m, delivery.DeliveryFilter{EventID: failed.EventID, Status: delivery.StatusFailed}, 1)
	events, _, err := b.svc.ListEvents(ctx, m, delivery.EventFilter{Type: webhook.TypeDeliveryFailed, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, events, "a failed test ping raises no delivery.failed")
	require.Empty(t, b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: watcherEP.ID}))
	require.Empty(t, star.requests(), "the \"*\" endpoint never hears a ping meant for another")

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
