package dashboardpg

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
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
	// Twenty other merchants, each with 3,000 deliveries that succeeded
	// over five weeks: the lists must not read theirs, and a day is a small
	// part of the table, as with a month's retention.
	for range 20 {
		other := dashboardtest.Merchant(t, pool, "Other")
		otherEndpoint := dashboardtest.Endpoint(t, pool, other, dashboardtest.EndpointOpts{})
		_, err := pool.Exec(ctx, `WITH ev AS (
				INSERT INTO events (id, merchant_id, type, created_at, body)
				SELECT 'evt_' || $1 || i, $1, 'charge.succeeded', now() - i * interval '1000 seconds', '{}'
				FROM generate_series(1, 3000) i RETURNING id, created_at)
			INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, attempts, created_at)
			SELECT 'dlv_' || substr(ev.id, 5), $1, ev.id, $2, 'charge.succeeded', 'succeeded', 1, ev.created_at FROM ev`,
			other, otherEndpoint)
		require.NoError(t, err)
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
		// A day of charges, one per session: mostly successes, a few
		// declines and blocks.
		`INSERT INTO checkout_sessions (id, merchant_id, status, payment_status, currency, amount_subtotal, amount_total,
			line_items, success_url, cancel_url, created_at, expires_at)
			SELECT 'cs_' || i, $1, 'open', 'unpaid', 'usd', 1000, 1000, '[]', 'https://shop.test/ok', 'https://shop.test/cart', now(), now()
			FROM generate_series(1, 30000) i`,
		`INSERT INTO card_tokens (id, merchant_id, brand, last4, exp_month, exp_year, fingerprint)
			VALUES ('tok_volume', $1, 'visa', '4242', 12, 2040, 'fp')`,
		`INSERT INTO charges (id, merchant_id, session_id, token_id, card_fingerprint, brand, last4, exp_month, exp_year, client_ip,
			amount, currency, status, failure_code, risk_level, risk_decision, three_d_secure, created_at, updated_at)
			SELECT 'ch_' || i, $1, 'cs_' || i, 'tok_volume', 'fp' || (i % 1000), 'visa', '4242', 12, 2040,
				('10.0.' || (i % 250) || '.' || (i % 200))::inet, 1000, 'usd',
				(ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'failed', 'canceled'])[1 + i % 9],
				CASE WHEN i % 9 >= 6 THEN 'card_declined' ELSE '' END, 'normal',
				CASE WHEN i % 90 = 7 THEN 'block' ELSE 'allow' END, 'not_required',
				now() - i * interval '3 seconds', now() - i * interval '3 seconds'
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

// No dashboard query reads a delivery table from end to end: each uses an
// index, and the lists read one ordered index range per branch (see
// deliverypg.StatusBranches).
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
	payments := func(f dashboard.PaymentFilter) query {
		sql, args := paymentsQuery(f, page)
		return query{sql, args}
	}
	recent := func(endpointID string) query {
		a := args{}
		sql := `SELECT r.recent FROM webhook_endpoints e ` + recentSuccess(&a) + ` WHERE e.id = ` + a.add(endpointID)
		return query{sql, a}
	}
	for _, tt := range []struct {
		name  string
		query query
		uses  string
	}{
		{"DeliveriesAll", list(dashboard.DeliveryFilter{}, page), "deliveries_created"},
		{"DeliveriesFailed", list(dashboard.DeliveryFilter{Status: delivery.StatusFailed}, page), "deliveries_rare_created"},
		{"DeliveriesOlderPage", list(dashboard.DeliveryFilter{}, dashboard.PageRequest{Limit: 50, After: cursor}), "deliveries_created"},
		{"DeliveriesNewerPage", list(dashboard.DeliveryFilter{}, dashboard.PageRequest{Limit: 50, Before: cursor}), "deliveries_created"},
		{"DeliveriesMerchant", list(dashboard.DeliveryFilter{MerchantID: merchantID}, page), "deliveries_merchant_created"},
		{"DeliveriesEndpoint", list(dashboard.DeliveryFilter{EndpointID: endpointID, Status: delivery.StatusPending}, page), "deliveries_endpoint_rare"},
		{"DeliveriesWindow", list(dashboard.DeliveryFilter{Since: &since, EventType: "charge.succeeded"}, page), "deliveries_created"},
		{"Attempts", query{attemptsSQL, []any{now.Add(-24 * time.Hour), since}}, "delivery_attempts_started"},
		{"DeliveriesRare", query{deliveriesSQL, []any{now.Add(-24 * time.Hour), since}}, "deliveries_rare_created"},
		{"DeliveriesTotal", query{deliveriesSQL, []any{now.Add(-24 * time.Hour), since}}, "deliveries_created"},
		{"Lag", query{lagSQL, []any{since}}, "delivery_attempts_started"},
		{"Queue", query{queueSQL, []any{queueStates}}, "river_job"},
		{"RecentSuccess", recent(endpointID), "deliveries_endpoint_created"},
		{"PaymentsAll", payments(dashboard.PaymentFilter{}), "charges_status_created"},
		{"PaymentsFailed", payments(dashboard.PaymentFilter{Status: checkout.ChargeFailed}), "charges_status_created"},
		{"PaymentsMerchant", payments(dashboard.PaymentFilter{MerchantID: merchantID}), "charges_merchant_status_created"},
		{"PaymentsBlocked", payments(dashboard.PaymentFilter{BlockedOnly: true}), "charges_blocked_created"},
		{"ChartCounts", query{chartCountsSQL, []any{now.Add(-24 * time.Hour), now, 3600.0}}, "delivery_attempts_started"},
		{"ChartLag", query{chartLagSQL, []any{now.Add(-24 * time.Hour), now, 3600.0, dashboard.LagSample}}, "delivery_attempts_started"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			plan := pgtest.Explain(t, pool, pgtest.Statement{SQL: tt.query.sql, Args: tt.query.args})
			for _, table := range []string{"deliveries", "delivery_attempts", "river_job", "charges"} {
				require.NotContains(t, plan, "Seq Scan on "+table+" ", plan)
			}
			require.Contains(t, plan, tt.uses, plan)
		})
	}

	// The blocked payments list keeps its decision as a literal, for its
	// partial index: the literal must still be checkout.RiskBlock, and the
	// index must serve the list even in a generic plan, with or without a
	// merchant.
	t.Run("BlockedPaymentsGeneric", func(t *testing.T) {
		require.Equal(t, "c.risk_decision = '"+string(checkout.RiskBlock)+"'", blockedCond)
		for _, f := range []dashboard.PaymentFilter{{BlockedOnly: true}, {BlockedOnly: true, MerchantID: merchantID}} {
			sql, a := paymentsQuery(f, page)
			plan := pgtest.ExplainGeneric(t, pool, pgtest.Statement{SQL: sql, Args: a})
			require.Contains(t, plan, "charges_blocked_created", plan)
		}
	})
}

// bigTables are the tables that grow with traffic: no query may read one
// from end to end.
var bigTables = []string{"deliveries", "delivery_attempts", "events", "river_job", "charges"}

// Every statement the read model, the session store and the audit log
// issue, with every shape of filter and paging, is recorded as the store
// runs it and then planned with EXPLAIN against the migrated schema: a
// renamed column, a status the schema refuses or a query that would scan a
// growing table fails here, not in an end-to-end test.
func TestEveryQueryExplained(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec := &pgtest.Recorder{}
	pool := pgtest.NewRecordingPool(t, rec)
	merchantID, endpointID := seedVolume(t, pool)
	redriveID := dashboardtest.Redrive(t, pool, merchantID, delivery.RedriveCompleted, 3, 3, time.Now())
	store := New(pool)
	now := time.Now()
	since, until := now.Add(-2*time.Hour), now.Add(-time.Hour)
	cursor := &dashboard.Cursor{At: now.Add(-24 * time.Hour), ID: "dlv_8640"}
	pages := []dashboard.PageRequest{{Limit: 50}, {Limit: 50, After: cursor}, {Limit: 50, Before: cursor}}
	session := &dashboard.Session{ID: "dss_1", Operator: "Ada", CSRFToken: "t", ClientIP: "192.0.2.7", UserAgent: "test",
		Created: now, LastSeen: now, IdleExpires: now.Add(time.Hour), Expires: now.Add(12 * time.Hour)}
	rec.Take() // the seeding is not the store's

	calls := map[string]func(t *testing.T){
		"Overview": func(t *testing.T) {
			_, err := store.Overview(ctx, now)
			require.NoError(t, err)
		},
		// Every combination of filters, on every kind of page.
		"ListDeliveries": func(t *testing.T) {
			for mask := range 1 << 6 {
				var f dashboard.DeliveryFilter
				if mask&1 != 0 {
					f.MerchantID = merchantID
				}
				if mask&2 != 0 {
					f.EndpointID = endpointID
				}
				if mask&4 != 0 {
					f.Status = delivery.StatusFailed
				}
				if mask&8 != 0 {
					f.EventType = "charge.succeeded"
				}
				if mask&16 != 0 {
					f.Since = &since
				}
				if mask&32 != 0 {
					f.Until = &until
				}
				for _, p := range pages {
					_, _, err := store.ListDeliveries(ctx, f, p)
					require.NoError(t, err)
				}
			}
		},
		"DeliveryContext": func(t *testing.T) {
			_, err := store.DeliveryContext(ctx, "dlv_1")
			require.NoError(t, err)
		},
		// Every state filter, with and without a merchant, on every kind
		// of page.
		"ListEndpoints": func(t *testing.T) {
			for _, state := range append([]dashboard.EndpointState{""}, dashboard.EndpointStates...) {
				for _, m := range []string{"", merchantID} {
					for _, p := range pages {
						_, _, err := store.ListEndpoints(ctx, dashboard.EndpointFilter{MerchantID: m, State: state}, p)
						require.NoError(t, err)
					}
				}
			}
		},
		"EndpointOptions": func(t *testing.T) {
			for _, m := range []string{"", merchantID} {
				_, err := store.EndpointOptions(ctx, m, 100)
				require.NoError(t, err)
			}
		},
		"EndpointMerchant": func(t *testing.T) {
			_, err := store.EndpointMerchant(ctx, endpointID)
			require.NoError(t, err)
		},
		"ListMerchants": func(t *testing.T) {
			_, err := store.ListMerchants(ctx, 100)
			require.NoError(t, err)
		},
		"ListRedrives": func(t *testing.T) {
			_, err := store.ListRedrives(ctx, 20)
			require.NoError(t, err)
		},
		"RedriveMerchant": func(t *testing.T) {
			_, err := store.RedriveMerchant(ctx, redriveID)
			require.NoError(t, err)
		},
		// Every combination of filters, on every kind of page.
		"ListPayments": func(t *testing.T) {
			paymentCursor := &dashboard.Cursor{At: now.Add(-time.Hour), ID: "ch_1200"}
			for mask := range 1 << 3 {
				var f dashboard.PaymentFilter
				if mask&1 != 0 {
					f.MerchantID = merchantID
				}
				if mask&2 != 0 {
					f.Status = checkout.ChargeFailed
				}
				if mask&4 != 0 {
					f.BlockedOnly = true
				}
				for _, p := range []dashboard.PageRequest{{Limit: 50}, {Limit: 50, After: paymentCursor}, {Limit: 50, Before: paymentCursor}} {
					_, _, err := store.ListPayments(ctx, f, p)
					require.NoError(t, err)
				}
			}
		},
		"Payment": func(t *testing.T) {
			_, err := store.Payment(ctx, "ch_7")
			require.NoError(t, err)
		},
		"Charts": func(t *testing.T) {
			_, err := store.Charts(ctx, now)
			require.NoError(t, err)
		},
		"CreateSession": func(t *testing.T) {
			require.NoError(t, store.CreateSession(ctx, []byte("digest"), session))
		},
		"FindSession": func(t *testing.T) {
			_, err := store.FindSession(ctx, []byte("digest"))
			require.NoError(t, err)
		},
		"TouchSession": func(t *testing.T) {
			require.NoError(t, store.TouchSession(ctx, session))
		},
		"DeleteSession": func(t *testing.T) {
			require.NoError(t, store.DeleteSession(ctx, session.ID))
		},
		"RecordAudit": func(t *testing.T) {
			_, err := store.RecordAudit(ctx, &dashboard.AuditEntry{At: now, Operator: "Ada", Action: dashboard.ActionSignIn})
			require.NoError(t, err)
		},
		"FinishAudit": func(t *testing.T) {
			require.NoError(t, store.FinishAudit(ctx, 1, dashboard.OutcomeSucceeded, "rdr_1", "done"))
		},
		"ListAudit": func(t *testing.T) {
			for _, before := range []int64{0, 2} {
				_, _, err := store.ListAudit(ctx, 50, before)
				require.NoError(t, err)
			}
		},
	}
	for _, iface := range []reflect.Type{
		reflect.TypeFor[dashboard.ReadModel](), reflect.TypeFor[dashboard.SessionStore](), reflect.TypeFor[dashboard.AuditLog](),
	} {
		for m := range iface.Methods() {
			require.Contains(t, calls, m.Name, "%s.%s has no case here", iface.Name(), m.Name)
		}
	}

	// In the interfaces' order, so that what one call writes (a session,
	// an audit entry) is there for the next.
	for _, name := range []string{"Overview", "ListDeliveries", "DeliveryContext", "ListEndpoints", "EndpointOptions",
		"EndpointMerchant", "ListMerchants", "ListRedrives", "RedriveMerchant", "ListPayments", "Payment", "Charts",
		"CreateSession", "FindSession", "TouchSession", "DeleteSession", "RecordAudit", "FinishAudit", "ListAudit"} {
		t.Run(name, func(t *testing.T) {
			calls[name](t)
			statements := rec.Take()
			require.NotEmpty(t, statements)
			for _, st := range statements {
				plan := pgtest.Explain(t, pool, st)
				for _, table := range bigTables {
					require.NotContains(t, plan, "Seq Scan on "+table+" ", "%s\n%s", st.SQL, plan)
				}
			}
		})
	}
}

// The two overview lists keep their status as a literal, for their partial
// indexes: the literal must still be the typed constant's value, and the
// index must serve the query even in a generic plan, made without the
// arguments (as Postgres may settle on for a statement pgx has prepared).
func TestPartialIndexLiterals(t *testing.T) {
	t.Parallel()

	require.Contains(t, openBreakersSQL, "e.breaker_state <> '"+string(delivery.BreakerClosed)+"'")
	require.Contains(t, disabledSQL, "e.status = '"+string(delivery.EndpointDisabled)+"'")
	pool := pgtest.NewPool(t)
	// Many healthy endpoints, a few that are not: the partial indexes are
	// the cheap way to the few.
	merchantID := dashboardtest.Merchant(t, pool, "Acme")
	for _, sql := range []string{
		`INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, status, secret_sealed, breaker_state, created_at, updated_at)
			SELECT 'we_' || i, $1, 'https://hooks.example.com/' || i, '{*}', CASE WHEN i % 500 = 0 THEN 'disabled' ELSE 'enabled' END,
				'not-sealed', CASE WHEN i % 700 = 0 THEN 'open' ELSE 'closed' END, now(), now()
			FROM generate_series(1, 5000) i`,
		`ANALYZE webhook_endpoints`,
	} {
		_, err := pool.Exec(context.Background(), sql, []any{merchantID}[:strings.Count(sql, "$")]...)
		require.NoError(t, err)
	}
	for _, tt := range []struct {
		st   pgtest.Statement
		uses string
	}{
		{pgtest.Statement{SQL: openBreakersSQL, Args: []any{dashboard.OverviewListLimit, delivery.EndpointEnabled}}, "webhook_endpoints_breaker"},
		{pgtest.Statement{SQL: disabledSQL, Args: []any{dashboard.OverviewListLimit}}, "webhook_endpoints_disabled"},
	} {
		plan := pgtest.ExplainGeneric(t, pool, tt.st)
		require.Contains(t, plan, tt.uses, plan)
	}
}

// The audit outcomes are exactly the values the schema accepts.
func TestOutcomesMatchSchema(t *testing.T) {
	t.Parallel()

	pgtest.RequireCheckValues(t, pgtest.NewPool(t), "dashboard_audit", "outcome", dashboard.OutcomePending,
		dashboard.OutcomeSucceeded, dashboard.OutcomeFailed)
}
