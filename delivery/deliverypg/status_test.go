package deliverypg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/webhook"
)

// A delivery's success changes none of its index entries (migration
// 00012): Postgres records it as a HOT update, and the delivery is in none
// of the rare states' partial indexes. Nor is its row locked before the
// update (migration 00014): the WAL holds one lock record per delivery, the
// one its attempt's foreign key takes, where a BEFORE UPDATE trigger would
// add a second.
func TestSuccessIsAHOTUpdate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := newSink(t, nil) // answers 200
	m := b.merchant(t, "Acme")
	b.endpoint(t, m, hookURL(s), "*")
	_, err := b.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect`)
	require.NoError(t, err)
	var from string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&from))
	const n = 5
	for range n {
		b.publish(t, m, webhook.TypeChargeSucceeded)
	}
	b.waitDeliveries(t, m, delivery.DeliveryFilter{Status: delivery.StatusSucceeded}, n)

	// The attempts were committed without waiting for their flush: a
	// transaction that writes, committed synchronously, flushes the WAL up
	// to its own record.
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on; CREATE TEMP TABLE flush_wal () ON COMMIT DROP`)
		return err
	}))
	records := map[string]int{}
	rows, err := b.pool.Query(ctx, `SELECT split_part(record_type, '+', 1), count(*) FROM pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn())
		WHERE resource_manager = 'Heap' AND block_ref LIKE '%/' || (SELECT oid FROM pg_database WHERE datname = current_database())
			|| '/' || pg_relation_filenode('deliveries') || ' fork main%'
		GROUP BY 1`, from)
	require.NoError(t, err)
	for rows.Next() {
		var kind string
		var count int
		require.NoError(t, rows.Scan(&kind, &count))
		records[kind] = count
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]int{"INSERT": n, "HOT_UPDATE": n, "LOCK": n}, records,
		"the deliveries' heap records: inserted, locked once by their attempts, updated in place")

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

// Herald's statements set rare_status themselves (migration 00014); one
// that does not, a process of the previous version or an operator's SQL,
// is repaired by a trigger, which says so. (The tests' pools fail on that
// NOTICE, so this one connects on its own.)
func TestRareStatusRepairedAfterAnUpdateWithoutIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	svc, m := newService(t, pool)
	createEndpoint(t, svc, m.ID, "https://hooks.example.com/a", "*")
	publishEvent(t, pool, svc, m.ID, webhook.TypeChargeSucceeded, time.Now())
	var id string
	require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM deliveries`).Scan(&id))
	require.Nil(t, rareStatus(t, pool, id))

	var notices []string
	cfg, err := pgx.ParseConfig(pool.Config().ConnString())
	require.NoError(t, err)
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	defer conn.Close(ctx)

	_, err = conn.Exec(ctx, `UPDATE deliveries SET status = 'failed', completed_at = now() WHERE id = $1`, id)
	require.NoError(t, err)
	require.Equal(t, ptr(string(delivery.StatusFailed)), rareStatus(t, pool, id), "repaired")
	require.Equal(t, []string{"herald: rare_status of delivery " + id + " repaired after an update that did not set it"}, notices)

	_, err = conn.Exec(ctx, `UPDATE deliveries d SET status = 'succeeded', `+
		setRareStatus(map[string]string{"status": "'succeeded'"})+` WHERE id = $1`, id)
	require.NoError(t, err)
	require.Nil(t, rareStatus(t, pool, id), "set by the statement")
	require.Len(t, notices, 1, "nothing to repair")
}
