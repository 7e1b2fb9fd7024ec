package migrations_test

import (
	"context"
	"io/fs"
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

	pool := pgtest.Open(t, dbURL)
	var tables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name IN ('checkout_sessions', 'events', 'river_job')`).Scan(&tables))
	require.Equal(t, 3, tables)

	again, err := migrations.Up(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, again.Herald, "an up-to-date database is left alone")
	require.Empty(t, again.River)
}

// CheckPending names what a database lacks of the binary's migrations,
// Herald's and River's, and nothing when the database is current or ahead.
func TestCheckPending(t *testing.T) {
	t.Parallel()

	sqlFiles, err := fs.Glob(migrations.FS(), "*.sql")
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		empty  bool
		alter  string
		herald func(latest int64) []int64
		river  string
	}{
		{name: "current", herald: none},
		{name: "never migrated", empty: true, herald: func(int64) []int64 { return nil }, river: "Unapplied migrations: ["},
		{name: "latest herald migration missing", alter: `DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)`,
			herald: func(latest int64) []int64 { return []int64{latest} }},
		{name: "latest herald migration rolled back by goose's older API",
			alter:  `INSERT INTO goose_db_version (version_id, is_applied) SELECT max(version_id), false FROM goose_db_version`,
			herald: func(latest int64) []int64 { return []int64{latest} }},
		{name: "river migration missing", alter: `DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration)`,
			herald: none, river: "Unapplied migrations: ["},
		{name: "database ahead of the binary", alter: `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)`, herald: none},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			dbURL := pgtest.NewDatabase(t)
			latest := int64(0)
			if tt.empty {
				dbURL = pgtest.NewEmptyDatabase(t)
			}
			pool := pgtest.Open(t, dbURL)
			if !tt.empty {
				require.NoError(t, pool.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&latest))
			}
			if tt.alter != "" {
				_, err := pool.Exec(ctx, tt.alter)
				require.NoError(t, err)
			}

			p, err := migrations.CheckPending(ctx, pool)
			require.NoError(t, err)
			if tt.empty {
				require.Len(t, p.Herald, len(sqlFiles), "every embedded migration is pending")
			} else {
				require.Equal(t, tt.herald(latest), p.Herald)
			}
			if tt.river == "" {
				require.Empty(t, p.River)
			} else {
				require.Contains(t, p.River, tt.river)
			}
			require.Equal(t, tt.herald(latest) == nil && !tt.empty && tt.river == "", p.None())
			if !p.None() {
				require.NotEmpty(t, p.String())
			}
		})
	}
}

func none(int64) []int64 { return nil }
