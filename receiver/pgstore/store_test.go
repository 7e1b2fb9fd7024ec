package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/receiver/receivertest"
	"github.com/heraldpay/herald/webhook"
)

// envURL names the PostgreSQL server the tests create their databases on;
// `make test` starts a throwaway one and sets it. This module cannot use
// Herald's internal test helpers: it is released on its own.
const envURL = "HERALD_TEST_DATABASE_URL"

// newPool returns a pool on a new, empty database, dropped when t ends.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	adminURL := os.Getenv(envURL)
	if adminURL == "" {
		t.Fatalf("%s is not set; run `make test` (or scripts/test ./receiver/pgstore/...), which starts a throwaway PostgreSQL", envURL)
	}
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, adminURL)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "pgstore_test_" + hex.EncodeToString(b)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg, err := pgxpool.ParseConfig(adminURL)
	require.NoError(t, err)
	cfg.ConnConfig.Database = name
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close) // cleanups run last first: closed before the drop
	return pool
}

// newStore returns a store over table on a new database, the table made,
// and the database's pool.
func newStore(t *testing.T, table string) (*Store, *pgxpool.Pool) {
	t.Helper()
	pool := newPool(t)
	store, err := New(pool, table)
	require.NoError(t, err)
	require.NoError(t, store.CreateTable(context.Background()))
	return store, pool
}

// exec runs a statement that sets the scene.
func exec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql)
	require.NoError(t, err)
}

// The store keeps receiver.Store's contract, concurrency checks waiting
// until the other callers are seen blocked on the first one's key.
func TestStoreContract(t *testing.T) {
	t.Parallel()

	store, pool := newStore(t, "public.receiver_once")
	require.NoError(t, store.CreateTable(context.Background()), "CreateTable is idempotent")
	waiters := func() int {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Errorf("count lock waiters: %v", err)
		}
		return n
	}
	receivertest.RunStore(t, store, receivertest.Options{Waiters: waiters})
}

// With the receiver's Fulfiller, the order is written in the store's
// transaction from the session the webhook brought, whole.
func TestStoreWithFulfiller(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	store, pool := newStore(t, "receiver_once")
	exec(t, pool, `CREATE TABLE orders (id text PRIMARY KEY, amount bigint, note text)`)
	f := receiver.NewFulfiller(store, func(ctx context.Context, s *webhook.CheckoutSession, via string) error {
		tx, ok := TxFromContext(ctx)
		if !ok {
			return errors.New("no transaction")
		}
		_, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, $2, $3)`, s.ClientReferenceID, s.AmountTotal, s.Metadata["note"]+" via "+via)
		return err
	})
	s := &webhook.CheckoutSession{ID: "cs_1", Object: "checkout.session", PaymentStatus: webhook.PaymentStatusPaid,
		AmountTotal: 3250, ClientReferenceID: "order-1", Metadata: map[string]string{"note": "gift"}}
	ev, err := webhook.NewEvent("evt_1", webhook.TypeCheckoutSessionCompleted, 1795608000, s)
	require.NoError(t, err)
	for range 2 {
		_, err := store.Once(ctx, "webhook:"+ev.ID, func(ctx context.Context) error { return f.HandleCompleted(ctx, ev) })
		require.NoError(t, err)
	}
	ran, err := f.Fulfil(ctx, s, receiver.ViaSuccessPage)
	require.NoError(t, err)
	require.False(t, ran, "the webhook fulfilled it first")
	var amount int64
	var note string
	require.NoError(t, pool.QueryRow(ctx, `SELECT amount, note FROM orders WHERE id = 'order-1'`).Scan(&amount, &note))
	require.Equal(t, int64(3250), amount)
	require.Equal(t, "gift via webhook", note)
	var keys int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM receiver_once`).Scan(&keys))
	require.Equal(t, 2, keys, "the event's key and the session's")
}

// With Postgres, the key and fn's own writes commit together; a nested Once
// joins the outer transaction.
func TestStoreTransaction(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	store, pool := newStore(t, "receiver_once")
	exec(t, pool, `CREATE TABLE orders (id text PRIMARY KEY, shipped int NOT NULL DEFAULT 0)`)
	exec(t, pool, `INSERT INTO orders (id) VALUES ('o1')`)

	ship := func(ctx context.Context) error {
		tx, ok := TxFromContext(ctx)
		require.True(t, ok)
		_, err := tx.Exec(ctx, `UPDATE orders SET shipped = shipped + 1 WHERE id = 'o1'`)
		return err
	}
	shipped := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT shipped FROM orders`).Scan(&n))
		return n
	}

	// The outer work fails after the inner Once succeeded: both roll back.
	boom := errors.New("crash before ack")
	_, err := store.Once(ctx, "webhook:evt_1", func(ctx context.Context) error {
		ran, err := store.Once(ctx, "session:cs_1", ship)
		require.NoError(t, err)
		require.True(t, ran)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Zero(t, shipped(), "nothing shipped, nothing recorded")

	ran, err := store.Once(ctx, "webhook:evt_1", func(ctx context.Context) error {
		_, err := store.Once(ctx, "session:cs_1", ship)
		return err
	})
	require.NoError(t, err)
	require.True(t, ran)
	require.Equal(t, 1, shipped())

	// The success page comes later: already shipped.
	ran, err = store.Once(ctx, "session:cs_1", ship)
	require.NoError(t, err)
	require.False(t, ran)
	require.Equal(t, 1, shipped())
}

func TestNewRejectsBadTableNames(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"", "a b", "x; DROP TABLE y", "a.b.c", "1abc"} {
		_, err := New((*pgxpool.Pool)(nil), name)
		require.Error(t, err, name)
	}
}

// Prune deletes the keys done before the age given, in batches, and keeps
// the others; a pruned key no longer stops its event from running again.
func TestStorePrune(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	store, pool := newStore(t, "public.receiver_once")
	var indexed bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes
		WHERE schemaname = 'public' AND indexname = 'receiver_once_done_at')`).Scan(&indexed))
	require.True(t, indexed, "CreateTable indexes done_at for Prune")

	noop := func(context.Context) error { return nil }
	for _, key := range []string{"webhook:evt_old", "webhook:evt_recent"} {
		_, err := store.Once(ctx, key, noop)
		require.NoError(t, err)
	}
	exec(t, pool, `UPDATE receiver_once SET done_at = now() - interval '50 days' WHERE key = 'webhook:evt_old'`)
	// More than one batch of old keys.
	exec(t, pool, `INSERT INTO receiver_once (key, done_at)
		SELECT 'webhook:evt_bulk' || g, now() - interval '60 days' FROM generate_series(1, 2500) g`)

	n, err := store.Prune(ctx, 45*24*time.Hour)
	require.NoError(t, err)
	require.Equal(t, int64(2501), n)
	rows, err := pool.Query(ctx, `SELECT key FROM receiver_once`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"webhook:evt_recent"}, left)

	ran, err := store.Once(ctx, "webhook:evt_recent", noop)
	require.NoError(t, err)
	require.False(t, ran, "a kept key still stops a duplicate")
	ran, err = store.Once(ctx, "webhook:evt_old", noop)
	require.NoError(t, err)
	require.True(t, ran, "a pruned key does not")

	_, err = store.Prune(ctx, 0)
	require.Error(t, err, "an age of 0 would forget keys done this very second")
}

// A schema-qualified table gets its index in its own schema.
func TestStoreIndexInSchema(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := newPool(t)
	exec(t, pool, `CREATE SCHEMA shop`)
	store, err := New(pool, "shop.herald_once")
	require.NoError(t, err)
	require.NoError(t, store.CreateTable(ctx))
	require.NoError(t, store.CreateTable(ctx))
	var indexed bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes
		WHERE schemaname = 'shop' AND tablename = 'herald_once' AND indexname = 'herald_once_done_at')`).Scan(&indexed))
	require.True(t, indexed)
	n, err := store.Prune(ctx, time.Hour)
	require.NoError(t, err)
	require.Zero(t, n)
}
