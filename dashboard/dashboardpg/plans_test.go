package dashboardpg

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
)

// seedVolume fills the delivery tables with enough rows, analysed, that the
// planner chooses as it would in production.
func seedVolume(t *testing.T, pool *pgxpool.Pool) (merchantID, endpointID string) {
	t.Helper()
	ctx := context.Background()
	merchantID = dashboardtest.Merchant(t, pool, "Acme")
	endpointID = dashboardtest.Endpoint(t, pool, merchantID, dashboardtest.EndpointOpts{})
	for range 20 {
		dashboardtest.Endpoint(t, pool, dashboardtest.Merchant(t, pool, "Other"), dashboardtest.EndpointOpts{})
	}
	for _, sql := range []string{
		`INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_' || i, $1, 'charge.succeeded', now() - i * interval '10 seconds', '{}' FROM generate_series(1, 30000) i`,
		`INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, attempts, created_at)
			SELECT 'dlv_' || i, $1, 'evt_' || i, $2, 'charge.succeeded',
				(ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'pending', 'canceled'])[1 + i % 9],
				1, now() - i * interval '10 seconds' FROM generate_series(1, 30000) i`,
		`INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us, request_headers, response_status)
			SELECT 'att_' || i, 'dlv_' || i, 1, 'initial', now() - i * interval '10 seconds' + interval '5 ms', 1000, '{}', 200
			FROM generate_series(1, 30000) i`,
		// River keeps completed jobs for a day: most of its table.
		`INSERT INTO river_job (kind, args, queue, state, max_attempts, scheduled_at, finalized_at)
			SELECT 'herald.deliver', '{}', 'delivery', 'completed', 25, now(), now() FROM generate_series(1, 30000)`,
		`INSERT INTO river_job (kind, args, queue, state, max_attempts, scheduled_at)
			SELECT 'herald.deliver', '{}', 'delivery', 'available', 25, now() FROM generate_series(1, 10)`,
		`ANALYZE`,
	} {
		args := []any{merchantID, endpointID}[:strings.Count(sql, "$")]
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	return merchantID, endpointID
}

func explain(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "EXPLAIN "+sql, args...)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	return strings.Join(plan, "\n")
}

// No dashboard query reads a delivery table from end to end: each uses an
// index, and the lists read one ordered index range per status.
func TestQueryPlans(t *testing.T) {
	t.Parallel()

	pool := pgtest.NewPool(t)
	merchantID, endpointID := seedVolume(t, pool)
	now := time.Now()
	since := now.Add(-time.Hour)
	cursor := &dashboard.Cursor{At: now.Add(-24 * time.Hour), ID: "dlv_8640"}
	page := dashboard.PageRequest{Limit: 50}
	type query struct {
		sql  string
		args []any
	}
	list := func(f dashboard.DeliveryFilter, p dashboard.PageRequest) query {
		sql, args := deliveriesQuery(f, p)
		return query{sql, args}
	}
	for _, tt := range []struct {
		name  string
		query query
		uses  string
	}{
		{"DeliveriesAll", list(dashboard.DeliveryFilter{}, page), "deliveries_status_created"},
		{"DeliveriesFailed", list(dashboard.DeliveryFilter{Status: delivery.StatusFailed}, page), "deliveries_status_created"},
		{"DeliveriesOlderPage", list(dashboard.DeliveryFilter{}, dashboard.PageRequest{Limit: 50, After: cursor}), "deliveries_status_created"},
		{"DeliveriesNewerPage", list(dashboard.DeliveryFilter{}, dashboard.PageRequest{Limit: 50, Before: cursor}), "deliveries_status_created"},
		{"DeliveriesMerchant", list(dashboard.DeliveryFilter{MerchantID: merchantID}, page), "deliveries_merchant_status"},
		{"DeliveriesEndpoint", list(dashboard.DeliveryFilter{EndpointID: endpointID, Status: delivery.StatusPending}, page), "deliveries_endpoint_status"},
		{"DeliveriesWindow", list(dashboard.DeliveryFilter{Since: &since, EventType: "charge.succeeded"}, page), "deliveries_status_created"},
		{"Attempts", query{attemptsSQL, []any{now.Add(-24 * time.Hour), since}}, "delivery_attempts_started"},
		{"Deliveries", query{deliveriesSQL, []any{now.Add(-24 * time.Hour), since}}, "deliveries_status_created"},
		{"Lag", query{lagSQL, []any{since}}, "delivery_attempts_started"},
		{"Queue", query{queueSQL, nil}, "river_job"},
		{"RecentSuccess", query{`SELECT r.recent FROM webhook_endpoints e ` + recentSuccess + ` WHERE e.id = $2`,
			[]any{dashboard.RecentSample, endpointID}}, "deliveries_endpoint_status"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			plan := explain(t, pool, tt.query.sql, tt.query.args...)
			for _, table := range []string{"deliveries", "delivery_attempts", "river_job"} {
				require.NotContains(t, plan, "Seq Scan on "+table+" ", plan)
			}
			require.Contains(t, plan, tt.uses, plan)
		})
	}
}
