package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
)

func TestRetentionSetting(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name      string
		env       map[string]string
		args      []string
		retention time.Duration
		interval  time.Duration
		err       string
	}{
		{name: "default", retention: 30 * 24 * time.Hour, interval: 10 * time.Minute},
		{name: "days", env: map[string]string{"HERALD_RETENTION": "90d"}, retention: 90 * 24 * time.Hour, interval: 10 * time.Minute},
		{name: "hours, by flag", args: []string{"--retention", "36h", "--prune-interval", "1m"}, retention: 36 * time.Hour, interval: time.Minute},
		{name: "the minimum", env: map[string]string{"HERALD_RETENTION": "1h"}, retention: time.Hour, interval: 10 * time.Minute},
		{name: "forever", env: map[string]string{"HERALD_RETENTION": "0"}, interval: 10 * time.Minute},
		{name: "too short", env: map[string]string{"HERALD_RETENTION": "30m"}, err: `invalid HERALD_RETENTION "30m": retention must be 0 (keep forever) or at least 1h`},
		{name: "negative", env: map[string]string{"HERALD_RETENTION": "-1h"}, err: `invalid HERALD_RETENTION "-1h": want a duration like 720h or 30d`},
		{name: "not a duration", env: map[string]string{"HERALD_RETENTION": "a month"}, err: `invalid HERALD_RETENTION "a month"`},
		{name: "bad interval", env: map[string]string{"HERALD_PRUNE_INTERVAL": "1ms"}, err: `invalid HERALD_PRUNE_INTERVAL "1ms"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": envDev}
			for k, v := range tt.env {
				env[k] = v
			}
			getenv := func(k string) string { return env[k] }
			cfg, err := parseServeConfig(tt.args, getenv)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				// Through the command: one line on stderr, exit 2.
				var stdout, stderr strings.Builder
				require.Equal(t, exitUsage, run(context.Background(), append([]string{"serve"}, tt.args...), getenv, &stdout, &stderr))
				require.Equal(t, "herald: "+err.Error()+"\n", stderr.String())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.retention, cfg.Retention)
			require.Equal(t, tt.interval, cfg.PruneInterval)
		})
	}
}

// River keeps its finished jobs no longer than Herald keeps deliveries:
// its own defaults, unless the retention is shorter.
func TestLimitRiverRetention(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		keep                            time.Duration
		completed, cancelled, discarded time.Duration
	}{
		{keep: 0},
		{keep: 30 * 24 * time.Hour, completed: 24 * time.Hour, cancelled: 24 * time.Hour, discarded: 7 * 24 * time.Hour},
		{keep: 3 * 24 * time.Hour, completed: 24 * time.Hour, cancelled: 24 * time.Hour, discarded: 3 * 24 * time.Hour},
		{keep: 2 * time.Hour, completed: 2 * time.Hour, cancelled: 2 * time.Hour, discarded: 2 * time.Hour},
	} {
		t.Run(tt.keep.String(), func(t *testing.T) {
			t.Parallel()
			cfg := &river.Config{}
			limitRiverRetention(cfg, tt.keep)
			require.Equal(t, tt.completed, cfg.CompletedJobRetentionPeriod)
			require.Equal(t, tt.cancelled, cfg.CancelledJobRetentionPeriod)
			require.Equal(t, tt.discarded, cfg.DiscardedJobRetentionPeriod)
		})
	}
}

// A `herald serve --roles worker` process with the default retention
// prunes deliveries finished more than 30 days ago, their attempts and
// their events, and leaves recent ones, payments and sessions alone.
func TestRetentionPrunesOldDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newDeliveryFixture(t, nil, func(c *Config) { c.Roles = []string{roleAPI} })
	p := startWorkerProcess(t, f.ts.cfg.DatabaseURL, "HERALD_PRUNE_INTERVAL=200ms")

	sessions := []string{f.pay(t), f.pay(t), f.pay(t)}
	delivered := f.waitDeliveries(t, "succeeded", 3)
	pool := f.ts.Pool()
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql, args...).Scan(&n))
		return n
	}
	require.Equal(t, 6, count(`SELECT count(*) FROM events`), "checkout.session.completed and charge.succeeded per payment")

	// Two deliveries (with their events) and one unsubscribed event become
	// 40 days old.
	var aged, kept []string
	for _, d := range delivered {
		if len(aged) < 2 {
			aged = append(aged, d["id"].(string))
		} else {
			kept = append(kept, d["id"].(string))
		}
	}
	// In one transaction, so that one run of the pruner sees it all.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `WITH d AS (
				UPDATE deliveries SET created_at = created_at - interval '40 days', completed_at = completed_at - interval '40 days'
				WHERE id = ANY($1) RETURNING event_id)
			UPDATE events SET created_at = created_at - interval '40 days' WHERE id IN (SELECT event_id FROM d)`, aged)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE events SET created_at = created_at - interval '40 days'
			WHERE id = (SELECT id FROM events WHERE type = 'charge.succeeded' ORDER BY seq LIMIT 1)`)
		return err
	})
	require.NoError(t, err)

	waitFor(t, 20*time.Second, "the old deliveries to be pruned", func() bool {
		return count(`SELECT count(*) FROM deliveries WHERE id = ANY($1)`, aged) == 0 && count(`SELECT count(*) FROM events`) == 3
	})
	require.Equal(t, 1, count(`SELECT count(*) FROM deliveries`))
	require.Equal(t, 1, count(`SELECT count(*) FROM deliveries WHERE id = ANY($1)`, kept))
	require.Equal(t, 1, count(`SELECT count(*) FROM delivery_attempts`), "only the kept delivery's attempt")
	r := f.ts.call(t, http.MethodGet, "/v1/deliveries/"+aged[0], f.key, nil)
	require.Equal(t, http.StatusNotFound, r.Status, "a pruned delivery is gone from the API")
	for _, s := range sessions {
		r := f.ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+s, f.key, nil)
		require.Equal(t, http.StatusOK, r.Status, "payments are not pruned")
		require.Equal(t, "paid", r.Body["payment_status"])
	}
	require.Equal(t, 3, count(`SELECT count(*) FROM charges WHERE status = 'succeeded'`))
	require.Equal(t, 3, count(`SELECT count(*) FROM acquirer_ledger`))

	_, metrics := httpGet(t, p.url()+"/metrics")
	for table, want := range map[string]int{"deliveries": 2, "delivery_attempts": 2, "events": 3} {
		m := regexp.MustCompile(`herald_pruned_rows_total\{table="` + table + `"\} (\d+)`).FindStringSubmatch(metrics)
		require.NotNil(t, m, table)
		require.Equal(t, strconv.Itoa(want), m[1], table)
	}
	require.Contains(t, p.stderr.String(), `level=INFO msg="pruned finished deliveries and events" deliveries=2 attempts=2`)
}
