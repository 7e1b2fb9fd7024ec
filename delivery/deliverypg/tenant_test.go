package deliverypg

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/validation"
	"github.com/heraldpay/herald/webhook"
)

// Every read and every redrive is scoped to its merchant: merchant B
// naming merchant A's endpoint, event, delivery or redrive gets
// ErrNotFound (or an unknown-cursor error), lists show B nothing of A's,
// and nothing B asks for changes A's objects. River is stopped, so A's
// failed delivery and queued redrive stay as they are: what B could
// redrive or cancel is still there to be redriven or cancelled.
func TestTenantScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	ma, mb := b.merchant(t, "A"), b.merchant(t, "B")
	ep := b.endpoint(t, ma, hookURL(newSink(t, nil)), "*")
	evt := b.publish(t, ma, webhook.TypeChargeSucceeded)
	list := b.deliveries(t, ma, delivery.DeliveryFilter{})
	require.Len(t, list, 1)
	d := list[0]
	// As if its attempts had run out: failed, its job finished. A redrive
	// in A's name would send it again.
	_, err := b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, d.ID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE deliveries d SET status = 'failed', next_attempt_at = NULL, completed_at = now(),
		`+setRareStatus(map[string]string{"status": "'failed'"})+`
		WHERE id = $1`, d.ID)
	require.NoError(t, err)
	r, err := b.svc.CreateRedrive(ctx, ma, delivery.RedriveParams{Status: delivery.StatusFailed})
	require.NoError(t, err)
	require.Equal(t, 1, r.Matched)

	// A sees each of its objects, so every refusal below is B's scope.
	_, err = b.svc.FindEndpoint(ctx, ma, ep.ID)
	require.NoError(t, err)
	_, err = b.svc.FindEvent(ctx, ma, evt)
	require.NoError(t, err)
	_, err = b.svc.FindDelivery(ctx, ma, d.ID)
	require.NoError(t, err)
	_, err = b.svc.FindRedrive(ctx, ma, r.ID)
	require.NoError(t, err)

	notFound := map[string]func() error{
		"FindEndpoint": func() error { _, err := b.svc.FindEndpoint(ctx, mb, ep.ID); return err },
		"UpdateEndpoint": func() error {
			_, err := b.svc.UpdateEndpoint(ctx, mb, ep.ID, delivery.EndpointParams{Paused: ptr(true)})
			return err
		},
		"RollSecret":     func() error { _, err := b.svc.RollSecret(ctx, mb, ep.ID, time.Hour); return err },
		"DeleteEndpoint": func() error { return b.svc.DeleteEndpoint(ctx, mb, ep.ID) },
		"FindEvent":      func() error { _, err := b.svc.FindEvent(ctx, mb, evt); return err },
		"FindDelivery":   func() error { _, err := b.svc.FindDelivery(ctx, mb, d.ID); return err },
		"RedriveDelivery": func() error {
			_, err := b.svc.RedriveDelivery(ctx, mb, d.ID)
			return err
		},
		"FindRedrive":   func() error { _, err := b.svc.FindRedrive(ctx, mb, r.ID); return err },
		"CancelRedrive": func() error { _, err := b.svc.CancelRedrive(ctx, mb, r.ID); return err },
	}
	for name, call := range notFound {
		require.ErrorIs(t, call(), delivery.ErrNotFound, name)
	}

	endpoints, _, err := b.svc.ListEndpoints(ctx, mb, 100, "")
	require.NoError(t, err)
	require.Empty(t, endpoints, "ListEndpoints")
	// Without a type and with A's type (the list reads one branch per type).
	for _, typ := range []string{"", webhook.TypeChargeSucceeded} {
		events, _, err := b.svc.ListEvents(ctx, mb, delivery.EventFilter{Limit: 100, Type: typ})
		require.NoError(t, err)
		require.Empty(t, events, "ListEvents type %q", typ)
	}
	deliveries, _, err := b.svc.ListDeliveries(ctx, mb, delivery.DeliveryFilter{}, 100, "")
	require.NoError(t, err)
	require.Empty(t, deliveries, "ListDeliveries")
	dry, err := b.svc.CreateRedrive(ctx, mb, delivery.RedriveParams{Status: delivery.StatusFailed, DryRun: true})
	require.NoError(t, err)
	require.Zero(t, dry.Matched, "CreateRedrive")

	cursors := map[string]func() error{
		"ListEndpoints": func() error { _, _, err := b.svc.ListEndpoints(ctx, mb, 10, ep.ID); return err },
		"ListEvents": func() error {
			_, _, err := b.svc.ListEvents(ctx, mb, delivery.EventFilter{Limit: 10, StartingAfter: evt})
			return err
		},
		"ListDeliveries": func() error {
			_, _, err := b.svc.ListDeliveries(ctx, mb, delivery.DeliveryFilter{}, 10, d.ID)
			return err
		},
	}
	for name, call := range cursors {
		var verr *validation.Error
		require.ErrorAs(t, call(), &verr, name)
		require.Equal(t, "starting_after", verr.Param, name)
	}

	// Nothing B did reached A's objects.
	got, err := b.svc.FindEndpoint(ctx, ma, ep.ID)
	require.NoError(t, err)
	require.False(t, got.Paused)
	require.Equal(t, delivery.EndpointEnabled, got.Status)
	var rolled bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT previous_secret_sealed IS NOT NULL FROM webhook_endpoints WHERE id = $1`,
		ep.ID).Scan(&rolled))
	require.False(t, rolled, "no secret rolled")
	require.Empty(t, b.jobs(t, d.ID), "not redriven")
	again, err := b.svc.FindDelivery(ctx, ma, d.ID)
	require.NoError(t, err)
	require.Equal(t, delivery.StatusFailed, again.Status, "not redriven")
	rd, err := b.svc.FindRedrive(ctx, ma, r.ID)
	require.NoError(t, err)
	require.Equal(t, delivery.RedriveQueued, rd.Status, "not cancelled")
}
