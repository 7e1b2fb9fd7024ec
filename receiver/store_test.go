package receiver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
)

// stores returns one of each Store, the Postgres one with a "fulfilments"
// table that fn can write to.
func stores(t *testing.T) map[string]Store {
	t.Helper()
	pool := pgtest.NewPool(t)
	pg, err := NewPostgresStore(pool, "public.receiver_once")
	require.NoError(t, err)
	require.NoError(t, pg.CreateTable(context.Background()))
	require.NoError(t, pg.CreateTable(context.Background()), "CreateTable is idempotent")
	return map[string]Store{"Postgres": pg, "Memory": NewMemoryStore()}
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

			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					_, err := store.Once(ctx, "k3", fn)
					require.NoError(t, err)
				})
			}
			wg.Wait()
			require.Equal(t, int32(3), runs.Load(), "ten concurrent calls, one run")
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
