package deliverypg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/webhook"
)

// A delivery's success changes none of its index entries (migration
// 00012): Postgres records it as a HOT update, and the delivery is in none
// of the rare states' partial indexes.
func TestSuccessIsAHOTUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := newSink(t, nil) // answers 200
	m := b.merchant(t, "Acme")
	b.endpoint(t, m, hookURL(s), "*")
	const n = 5
	for range n {
		b.publish(t, m, webhook.TypeChargeSucceeded)
	}
	b.waitDeliveries(t, m, delivery.DeliveryFilter{Status: delivery.StatusSucceeded}, n)

	var rare int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE rare_status IS NOT NULL`).Scan(&rare))
	require.Zero(t, rare, "a succeeded delivery has no rare status")
	// Each backend reports its counts when it goes idle, within seconds.
	var updates, hot int64
	waitFor(t, 30*time.Second, "the updates' statistics", func() bool {
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
			WHERE relname = 'deliveries'`).Scan(&updates, &hot))
		return updates >= n
	})
	require.Equal(t, updates, hot, "every update of a delivery on the hot path is HOT")
}

// A delivery waiting for its first attempt is in no status index: the
// lists find it through its live job. When that job goes without an
// attempt (deleted by hand, or discarded by River), the trigger on
// river_job takes the delivery off the hot path, so that it is still
// listed, and the sweeper finds it and enqueues it again. Cancelling an
// endpoint's pending deliveries reaches both kinds.
func TestQueuedDeliveriesFoundThroughTheirJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	svc, m := newService(t, pool) // jobs are inserted, never worked
	e := createEndpoint(t, svc, m.ID, "https://hooks.example.com/a", "*")
	for range 3 {
		publishEvent(t, pool, svc, m.ID, webhook.TypeChargeSucceeded, time.Now())
	}
	list := func(st delivery.Status) []string {
		t.Helper()
		out, _, err := svc.ListDeliveries(ctx, m.ID, delivery.DeliveryFilter{Status: st}, 10, "")
		require.NoError(t, err)
		ids := make([]string, len(out))
		for i, d := range out {
			ids[i] = d.ID
		}
		return ids
	}
	all := list("")
	require.Len(t, all, 3)
	require.Equal(t, all, list(delivery.StatusPending), "found through their jobs")
	for _, id := range all {
		require.Nil(t, rareStatus(t, pool, id), "on the hot path")
	}

	deleted, discarded, kept := all[0], all[1], all[2]
	_, err := pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, deleted)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE args->>'delivery_id' = $1`, discarded)
	require.NoError(t, err)
	for _, id := range []string{deleted, discarded} {
		require.Equal(t, ptr(string(delivery.StatusPending)), rareStatus(t, pool, id), "off the hot path once its job is gone")
	}
	require.Nil(t, rareStatus(t, pool, kept))
	require.Equal(t, all, list(delivery.StatusPending), "still listed")

	n, err := Sweep(ctx, pool, svc.cfg.Inserter, 100)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the deleted and the discarded one")
	var live int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM deliveries d WHERE `+hasLiveJob).Scan(&live))
	require.Equal(t, 3, live, "every delivery has a live job again")

	require.NoError(t, svc.DeleteEndpoint(ctx, m.ID, e.ID))
	require.Empty(t, list(delivery.StatusPending))
	require.Equal(t, all, list(delivery.StatusCanceled), "both kinds cancelled")
}

// rareStatus reads a delivery's rare_status: nil on the hot path.
func rareStatus(t *testing.T, pool *pgxpool.Pool, deliveryID string) *string {
	t.Helper()
	var st *string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT rare_status FROM deliveries WHERE id = $1`, deliveryID).Scan(&st))
	return st
}
