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

// A pending delivery whose job is gone — deleted by hand in River UI, or
// discarded after River's own attempts ran out — is found by the sweeper
// and enqueued again, keeping its scheduled time; deliveries that have a
// live job, or are held, are left alone. Until then a single redrive can
// reach it too.
func TestSweepRequeuesOrphans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	s := newSink(t, answer(http.StatusInternalServerError))
	ep := b.endpoint(t, m, s.url(), "*")

	// Three deliveries each fail once and wait an hour for their retry.
	for range 3 {
		b.publish(t, m, webhook.TypeChargeSucceeded)
	}
	list := b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: ep.ID}, 3)
	waitFor(t, 10*time.Second, "three first attempts", func() bool { return len(s.requests()) == 3 })
	waitFor(t, 10*time.Second, "three scheduled retries", func() bool {
		n := 0
		for _, d := range list {
			n += b.jobs(t, d.ID)["scheduled"]
		}
		return n == 3
	})
	deleted, discarded, kept := list[0].ID, list[1].ID, list[2].ID
	_, err := b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, deleted)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE args->>'delivery_id' = $1`, discarded)
	require.NoError(t, err)
	// A held delivery (paused endpoint) has no job on purpose.
	pausedEP := b.endpoint(t, m, newSink(t, nil).url(), webhook.TypeCheckoutSessionExpired)
	b.update(t, m, pausedEP.ID, delivery.EndpointParams{Paused: ptr(true)})
	b.publish(t, m, webhook.TypeCheckoutSessionExpired)

	n, err := Sweep(ctx, b.pool, b.client, 100)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the deleted and the discarded one")
	for _, orphan := range []string{deleted, discarded} {
		d, err := b.svc.FindDelivery(ctx, m, orphan)
		require.NoError(t, err)
		require.Equal(t, delivery.StatusPending, d.Status)
		require.Equal(t, 1, b.jobs(t, orphan)["scheduled"], "a new job, at the retry's time")
	}
	require.Equal(t, map[string]int{"scheduled": 1}, b.jobs(t, kept), "untouched")
	n, err = Sweep(ctx, b.pool, b.client, 100)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to sweep")

	// The sweeper job itself reports what it found.
	_, err = b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, kept)
	require.NoError(t, err)
	_, err = b.client.Insert(ctx, SweepArgs{}, nil)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the sweep job", func() bool { return b.metric(t, "herald_deliveries_orphaned_total") == 1 })
	require.Contains(t, b.logs.String(), `level=WARN msg="re-enqueued orphaned deliveries" count=1`)
}

// A single redrive reaches an orphan at once (a pending delivery with no
// live job), but leaves alone a pending delivery whose job is on its way:
// no delivery is ever attempted twice at the same time.
func TestRedriveReachesOrphans(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	m := b.merchant(t, "Acme")
	s := newSink(t, answer(http.StatusInternalServerError))
	ep := b.endpoint(t, m, s.url(), "*")
	b.publish(t, m, webhook.TypeChargeSucceeded)
	d := b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: ep.ID}, 1)[0]
	waitFor(t, 10*time.Second, "the retry to be scheduled", func() bool { return b.jobs(t, d.ID)["scheduled"] == 1 })

	got, err := b.svc.RedriveDelivery(ctx, m, d.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"scheduled": 1}, b.jobs(t, d.ID), "on its way: left alone")
	require.Equal(t, 1, got.Attempts)

	_, err = b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, d.ID)
	require.NoError(t, err)
	s.setHandler(nil)
	_, err = b.svc.RedriveDelivery(ctx, m, d.ID)
	require.NoError(t, err)
	b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: ep.ID, Status: delivery.StatusSucceeded}, 1)
	full, err := b.svc.FindDelivery(ctx, m, d.ID)
	require.NoError(t, err)
	require.Len(t, full.AttemptLog, 2)
	require.Equal(t, delivery.TriggerRedrive, full.AttemptLog[1].Trigger)
}
