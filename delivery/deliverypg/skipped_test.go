package deliverypg

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

// An event that matches a disabled endpoint is not dropped: it gets a
// skipped delivery (no job, no attempt), which a redrive sends once the
// endpoint is enabled again.
func TestDisabledEndpointSkipsAndRedriveSends(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	live, off := newSink(t, nil), newSink(t, nil)
	liveEP := b.endpoint(t, m, live.url(), webhook.TypeCheckoutSessionCompleted)
	offEP := b.endpoint(t, m, off.url(), webhook.TypeCheckoutSessionCompleted)
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
	require.Empty(t, off.requests())
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
	require.Empty(t, off.requests())

	// "Send what it missed": a bulk redrive of its skipped deliveries.
	rd, err = b.svc.CreateRedrive(ctx, m, delivery.RedriveParams{EndpointID: offEP.ID, Status: delivery.StatusSkipped})
	require.NoError(t, err)
	require.Equal(t, 1, rd.Matched)
	reqs := off.waitType(t, webhook.TypeCheckoutSessionCompleted, 1)
	require.Equal(t, evt, reqs[0].Event.ID)
	got := b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: offEP.ID, Status: delivery.StatusSucceeded}, 1)[0]
	full, err := b.svc.FindDelivery(ctx, m, got.ID)
	require.NoError(t, err)
	require.Len(t, full.AttemptLog, 1)
	require.Equal(t, delivery.TriggerRedrive, full.AttemptLog[0].Trigger)
	require.Len(t, live.requests(), 1, "the enabled endpoint got the event once")
}

// A deleted endpoint gets nothing, not even a skipped delivery; a paused
// one holds its deliveries (pending, no job) as before.
func TestDeletedAndPausedEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	gone := b.endpoint(t, m, newSink(t, nil).url(), "*")
	require.NoError(t, b.svc.DeleteEndpoint(ctx, m, gone.ID))
	paused := b.endpoint(t, m, newSink(t, nil).url(), "*")
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

func ptr[T any](v T) *T { return &v }
