package main

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
)

func TestAbortStatementsOfLostClients(t *testing.T) {
	t.Parallel()

	dbURL := pgtest.NewDatabase(t)
	for _, tt := range []struct {
		name, query, want string
	}{
		{"Default", "", clientCheckInterval},
		{"SetInDatabaseURL", "client_connection_check_interval=5s", "5s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			u := dbURL
			if tt.query != "" {
				sep := "?"
				if strings.Contains(u, "?") {
					sep = "&"
				}
				u += sep + tt.query
			}
			cfg, err := pgxpool.ParseConfig(u)
			require.NoError(t, err)
			abortStatementsOfLostClients(cfg)
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			defer pool.Close()
			var got string
			require.NoError(t, pool.QueryRow(ctx, `SHOW client_connection_check_interval`).Scan(&got))
			require.Equal(t, tt.want, got)
		})
	}
}
