package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/internal/pgtest"
)

// queryStrings runs a query of one text column and returns its values.
func queryStrings(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), sql, args...)
	require.NoError(t, err)
	values, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return values
}

// merchantKey creates a merchant on dbURL and returns its secret key.
func merchantKey(t *testing.T, dbURL string) string {
	t.Helper()
	_, key := accounttest.NewMerchant(t, pgtest.Open(t, dbURL), "Acme")
	return key
}

// merchantDB is the start of the tests that run herald processes: a new
// migrated database with one merchant, Acme. It returns the database's
// URL, a pool on it (closed when the test ends) and the merchant's key.
func merchantDB(t *testing.T) (dbURL string, pool *pgxpool.Pool, key string) {
	t.Helper()
	dbURL = pgtest.NewDatabase(t)
	pool = pgtest.Open(t, dbURL)
	_, key = accounttest.NewMerchant(t, pool, "Acme")
	return dbURL, pool, key
}

// httpGet fetches url and returns its status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// statusOf sends req and returns the answer's status; the body is dropped.
func statusOf(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}
