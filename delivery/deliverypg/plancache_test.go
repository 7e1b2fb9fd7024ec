package deliverypg

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
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
// new installation.
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
	type prepared struct {
		conn            *pgx.Conn
		name            string
		params          int
		generic, custom int64
	}
	found := map[string][]prepared{}
	conns := b.pool.AcquireAllIdle(ctx)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for _, c := range conns {
		rows, err := c.Query(ctx, `SELECT name, statement, cardinality(parameter_types), generic_plans, custom_plans
			FROM pg_prepared_statements`)
		require.NoError(t, err)
		for rows.Next() {
			var p prepared
			var sql string
			require.NoError(t, rows.Scan(&p.name, &sql, &p.params, &p.generic, &p.custom))
			p.conn = c.Conn()
			for what, marker := range statements {
				if strings.Contains(sql, marker) {
					found[what] = append(found[what], p)
				}
			}
		}
		require.NoError(t, rows.Err())
	}

	for what := range statements {
		var generic, custom int64
		for _, p := range found[what] {
			generic, custom = generic+p.generic, custom+p.custom
		}
		require.Positive(t, generic, "%s: generic plans", what)
		require.Zero(t, custom, "%s: custom plans", what)

		// The plan, as the worker runs it: under the worker's settings,
		// EXPLAIN EXECUTE shows the cached generic plan.
		p := found[what][0]
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
		require.NotContains(t, plan.String(), "Seq Scan", "%s: plan\n%s", what, plan.String())
		require.Contains(t, plan.String(), "deliveries_pkey", "%s: plan\n%s", what, plan.String())
	}
}
