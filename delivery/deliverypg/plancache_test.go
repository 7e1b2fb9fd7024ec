package deliverypg

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

// The worker's hot statements take their ids as arrays. Left to choose,
// Postgres plans each execution afresh (a generic plan priced for a hundred
// ids loses to a custom plan for the one at hand), which cost more Postgres
// time than the statements ran for. They run one generic plan per
// connection instead, and that plan looks each delivery up by its primary
// key even though the tables were empty when it was made, as they are in a
// new installation. A batch with a terminal record (here, 410s) plans as
// usual, and never leaves a generic plan of its own behind for the others.
func TestWorkerStatementsPlannedOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := newSink(t, nil) // answers 200
	m := b.merchant(t, "Acme")
	b.endpoint(t, m, hookURL(s), "*")
	// One at a time, so that every execution has one id; Postgres makes
	// five custom plans before it weighs a generic one.
	const n = 8
	for i := range n {
		b.publish(t, m, webhook.TypeChargeSucceeded)
		b.waitDeliveries(t, m, delivery.DeliveryFilter{Status: delivery.StatusSucceeded}, i+1)
	}

	statements := map[string]string{
		"load":   "FROM deliveries d JOIN webhook_endpoints e",
		"record": "UPDATE deliveries d SET status = u.status",
	}
	found := preparedStatements(t, b.pool, statements)
	for _, p := range append(found["load"], found["record"]...) {
		// The settings ended with the batch's transaction: the
		// connection's other statements (the API's, River's) plan as usual.
		var mode, seqscan string
		require.NoError(t, p.conn.QueryRow(ctx, `SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')`).
			Scan(&mode, &seqscan))
		require.Equal(t, []string{"auto", "on"}, []string{mode, seqscan})
	}
	for what := range statements {
		var generic, custom int64
		for _, p := range found[what] {
			generic, custom = generic+p.generic, custom+p.custom
		}
		require.Positive(t, generic, "%s: generic plans", what)
		require.Zero(t, custom, "%s: custom plans", what)
	}

	// Terminal batches, one at a time: each endpoint answers 410 to its
	// first event and is disabled. Enough of them that some connection of
	// the pool runs the record statement more than five times this way.
	gone := newSink(t, answer(http.StatusGone))
	other := b.merchant(t, "Gone Co")
	for range 4 * n {
		e := b.endpoint(t, other, hookURL(gone), webhook.TypeChargeFailed)
		b.publish(t, other, webhook.TypeChargeFailed)
		waitFor(t, 20*time.Second, "the endpoint disabled", func() bool {
			got, err := b.svc.FindEndpoint(ctx, other, e.ID)
			require.NoError(t, err)
			return got.Status == delivery.EndpointDisabled
		})
	}

	// Every plan, as the worker runs it: under the worker's settings,
	// EXPLAIN EXECUTE shows the cached generic plan.
	found = preparedStatements(t, b.pool, statements)
	for what := range statements {
		for _, p := range found[what] {
			plan := explainPrepared(t, p)
			require.NotContains(t, plan, "Seq Scan", "%s: plan\n%s", what, plan)
			require.Contains(t, plan, "deliveries_pkey", "%s: plan\n%s", what, plan)
		}
	}
}

// prepared is one of a connection's prepared statements.
type prepared struct {
	conn            *pgx.Conn
	name            string
	params          int
	generic, custom int64
}

// preparedStatements returns the idle connections' prepared statements
// whose text contains each marker, by the marker's name. The connections
// are released when t ends.
func preparedStatements(t *testing.T, pool *pgxpool.Pool, markers map[string]string) map[string][]prepared {
	t.Helper()
	ctx := context.Background()
	found := map[string][]prepared{}
	for _, c := range pool.AcquireAllIdle(ctx) {
		t.Cleanup(c.Release)
		rows, err := c.Query(ctx, `SELECT name, statement, cardinality(parameter_types), generic_plans, custom_plans
			FROM pg_prepared_statements`)
		require.NoError(t, err)
		for rows.Next() {
			p := prepared{conn: c.Conn()}
			var sql string
			require.NoError(t, rows.Scan(&p.name, &sql, &p.params, &p.generic, &p.custom))
			for what, marker := range markers {
				if strings.Contains(sql, marker) {
					found[what] = append(found[what], p)
				}
			}
		}
		require.NoError(t, rows.Err())
	}
	return found
}

// explainPrepared returns the plan p runs under the worker's settings.
func explainPrepared(t *testing.T, p prepared) string {
	t.Helper()
	ctx := context.Background()
	args := strings.TrimSuffix(strings.Repeat("NULL, ", p.params), ", ")
	var plan strings.Builder
	err := pgx.BeginFunc(ctx, p.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, genericPlan); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, fmt.Sprintf("EXPLAIN EXECUTE %s(%s)", pgx.Identifier{p.name}.Sanitize(), args))
		if err != nil {
			return err
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	})
	require.NoError(t, err)
	return plan.String()
}
