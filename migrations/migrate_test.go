package migrations_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/migrations"
)

// Several processes starting at once all run Up: each must succeed, and
// every migration must be applied exactly once.
func TestUpConcurrently(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)

	var wg sync.WaitGroup
	results := make([]migrations.Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() {
			pool, err := pgxpool.New(ctx, dbURL)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			results[i], errs[i] = migrations.Up(ctx, pool)
		})
	}
	wg.Wait()

	applied := 0
	for i := range results {
		require.NoError(t, errs[i])
		if len(results[i].Herald) > 0 {
			applied++
			require.NotEmpty(t, results[i].River, "the first caller applies River's migrations too")
		}
	}
	require.Equal(t, 1, applied, "exactly one caller applied the migrations")

	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	var tables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name IN ('checkout_sessions', 'events', 'river_job')`).Scan(&tables))
	require.Equal(t, 3, tables)

	again, err := migrations.Up(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, again.Herald, "an up-to-date database is left alone")
	require.Empty(t, again.River)
}
