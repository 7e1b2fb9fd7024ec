package receiver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
)

// testStore is a Store under test and, for the Postgres one, a way to count
// the sessions of its database waiting on a lock.
type testStore struct {
	Store
	lockWaiters func(t *testing.T) int
}

// stores returns one of each Store.
func stores(t *testing.T) map[string]testStore {
	t.Helper()
	pool := pgtest.NewPool(t)
	pg, err := NewPostgresStore(pool, "public.receiver_once")
	require.NoError(t, err)
	require.NoError(t, pg.CreateTable(context.Background()))
	require.NoError(t, pg.CreateTable(context.Background()), "CreateTable is idempotent")
	// Called from the goroutines of the test: it reports, never stops.
	waiters := func(t *testing.T) int {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Errorf("count lock waiters: %v", err)
		}
		return n
	}
	return map[string]testStore{"Postgres": {pg, waiters}, "Memory": {NewMemoryStore(), nil}}
}

func TestStoreOnce(t *testing.T) {
	t.Parallel()

	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			var runs atomic.Int32
			fn := func(context.Context) error { runs.Add(1); return nil }

			ran, err := store.Once(ctx, "k1", fn)
			require.NoError(t, err)
			require.True(t, ran)
			ran, err = store.Once(ctx, "k1", fn)
			require.NoError(t, err)
			require.False(t, ran)
			require.Equal(t, int32(1), runs.Load())

			boom := errors.New("boom")
			_, err = store.Once(ctx, "k2", func(context.Context) error { return boom })
			require.ErrorIs(t, err, boom)
			ran, err = store.Once(ctx, "k2", fn)
			require.NoError(t, err)
			require.True(t, ran, "a failed run records nothing")

			// Ten calls for one key released at once, and a fn that takes
			// its time: the first caller is still inside it when the other
			// nine arrive, so a store that looked for the key before
			// recording it would let a second caller in. fn waits until
			// that happens, or until the nine are seen blocked (Postgres:
			// on the first caller's uncommitted key), or, where blocking
			// cannot be seen (memory), for a quarter of a second.
			const callers = 10
			var inside atomic.Int32
			secondIn := make(chan struct{})
			slow := func(context.Context) error {
				if n := inside.Add(1); n > 1 {
					if n == 2 {
						close(secondIn)
					}
					return nil
				}
				deadline := time.Now().Add(250 * time.Millisecond)
				if store.lockWaiters != nil {
					deadline = time.Now().Add(10 * time.Second)
				}
				for time.Now().Before(deadline) {
					if store.lockWaiters != nil && store.lockWaiters(t) == callers-1 {
						return nil
					}
					select {
					case <-secondIn:
						return nil
					case <-time.After(5 * time.Millisecond):
					}
				}
				return nil
			}
			var ready, done sync.WaitGroup
			start := make(chan struct{})
			var reported atomic.Int32
			for range callers {
				ready.Add(1)
				done.Go(func() {
					ready.Done()
					<-start
					r, err := store.Once(ctx, "k3", slow)
					if err != nil {
						t.Errorf("Once: %v", err)
					}
					if r {
						reported.Add(1)
					}
				})
			}
			ready.Wait()
			close(start)
			done.Wait()
			require.Equal(t, int32(1), inside.Load(), "ten concurrent calls, one run")
			require.Equal(t, int32(1), reported.Load(), "one call reports that fn ran")
		})
	}
}

// With Postgres, the key and fn's own writes commit together; a nested Once
// joins the outer transaction.
func TestPostgresStoreTransaction(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store, err := NewPostgresStore(pool, "receiver_once")
	require.NoError(t, err)
	require.NoError(t, store.CreateTable(ctx))
	_, err = pool.Exec(ctx, `CREATE TABLE orders (id text PRIMARY KEY, shipped int NOT NULL DEFAULT 0)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO orders (id) VALUES ('o1')`)
	require.NoError(t, err)

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
	_, err = store.Once(ctx, "webhook:evt_1", func(ctx context.Context) error {
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

func TestNewPostgresStoreRejectsBadTableNames(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"", "a b", "x; DROP TABLE y", "a.b.c", "1abc"} {
		_, err := NewPostgresStore((*pgxpool.Pool)(nil), name)
		require.Error(t, err, name)
	}
}

// Prune deletes the keys done before the age given, in batches, and keeps
// the others; a pruned key no longer stops its event from running again.
func TestPostgresStorePrune(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store, err := NewPostgresStore(pool, "public.receiver_once")
	require.NoError(t, err)
	require.NoError(t, store.CreateTable(ctx))
	var indexed bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_indexes
		WHERE schemaname = 'public' AND indexname = 'receiver_once_done_at')`).Scan(&indexed))
	require.True(t, indexed, "CreateTable indexes done_at for Prune")

	noop := func(context.Context) error { return nil }
	for _, key := range []string{"webhook:evt_old", "webhook:evt_recent"} {
		_, err := store.Once(ctx, key, noop)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `UPDATE receiver_once SET done_at = now() - interval '50 days' WHERE key = 'webhook:evt_old'`)
	require.NoError(t, err)
	// More than one batch of old keys.
	_, err = pool.Exec(ctx, `INSERT INTO receiver_once (key, done_at)
		SELECT 'webhook:evt_bulk' || g, now() - interval '60 days' FROM generate_series(1, 2500) g`)
	require.NoError(t, err)

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
func TestPostgresStoreIndexInSchema(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, `CREATE SCHEMA shop`)
	require.NoError(t, err)
	store, err := NewPostgresStore(pool, "shop.herald_once")
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
