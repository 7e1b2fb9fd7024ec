package dashboardpg

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverypg"
)

// overviewTimeout bounds each overview query: a dashboard page must never
// load the database it is there to watch.
const overviewTimeout = "5s"

// Overview queries. $1 is the start of the day window, $2 of the hour.
// Statuses are arguments, but for the two lists whose partial indexes
// (webhook_endpoints_breaker, webhook_endpoints_disabled) the planner uses
// only when the query repeats the index's predicate literally: there
// 'closed' and 'disabled' are written out, and plans_test.go checks that
// they are still delivery.BreakerClosed and delivery.EndpointDisabled.
const (
	// attemptsSQL reads delivery_attempts_started alone (index-only).
	attemptsSQL = `SELECT count(*), count(*) FILTER (WHERE ok), count(*) FILTER (WHERE started_at >= $2),
		count(*) FILTER (WHERE started_at >= $2 AND ok)
		FROM (SELECT started_at, error_class = '' AND response_status BETWEEN 200 AND 299 AS ok
			FROM delivery_attempts WHERE started_at >= $1) a`
	// lagSQL: commit to first attempt, over the first attempts of the hour
	// ($1 here), each looking its delivery up by primary key (a subquery,
	// so the cost follows the window, never the deliveries table).
	lagSQL = `SELECT count(*), COALESCE(percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag), ARRAY[0, 0, 0])
		FROM (SELECT greatest(extract(epoch FROM a.started_at -
				(SELECT d.created_at FROM deliveries d WHERE d.id = a.delivery_id))::float8, 0) AS lag
			FROM delivery_attempts a WHERE a.started_at >= $1 AND a.number = 1) l`
	// queueSQL counts River's jobs by queue and state, completed left out
	// ($1, queueStates: a list, not <>, so River's state-led index serves it).
	queueSQL = `SELECT queue, state::text, count(*) FROM river_job
		WHERE state = ANY($1::text[]::river_job_state[])
		GROUP BY queue, state`
	// endpointCountsSQL: $1 enabled, $2 disabled, $3 closed.
	endpointCountsSQL = `SELECT count(*) FILTER (WHERE status = $1 AND breaker_state <> $3),
		count(*) FILTER (WHERE status = $2), count(*) FILTER (WHERE status = $1 AND paused)
		FROM webhook_endpoints WHERE deleted_at IS NULL`
	// openBreakersSQL: $1 the limit, $2 enabled.
	openBreakersSQL = `SELECT ` + endpointColumns + ` FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id
		WHERE e.deleted_at IS NULL AND e.breaker_state <> 'closed' AND e.status = $2
		ORDER BY e.breaker_changed_at DESC NULLS LAST LIMIT $1`
	// disabledSQL: $1 the limit.
	disabledSQL = `SELECT ` + endpointColumns + ` FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id
		WHERE e.deleted_at IS NULL AND e.status = 'disabled' ORDER BY e.updated_at DESC LIMIT $1`
)

// deliveriesSQL counts the deliveries of the day ($1) and of the hour
// ($2), and the failed and skipped ones among them: three index ranges,
// of deliveries_created and deliveries_rare_created (index-only once
// vacuum has marked the pages).
var deliveriesSQL = `SELECT t.n, f.n, s.n, t.h, f.h, s.h FROM ` + countSince("true") + ` t, ` +
	countSince(deliverypg.RareStatus(delivery.StatusFailed)) + ` f, ` + countSince(deliverypg.RareStatus(delivery.StatusSkipped)) + ` s`

// countSince counts the deliveries d matching cond created since $1 (n),
// and since $2 (h).
func countSince(cond string) string {
	return `(SELECT count(*) AS n, count(*) FILTER (WHERE d.created_at >= $2) AS h FROM deliveries d
		WHERE ` + cond + ` AND d.created_at >= $1)`
}

// queueStates are the River job states the overview counts: all but
// completed, which River keeps a day and which would make the count read
// most of its table.
var queueStates = slices.DeleteFunc(rivertype.JobStates(), func(s rivertype.JobState) bool {
	return s == rivertype.JobStateCompleted
})

// Overview implements dashboard.ReadModel.
func (s *Store) Overview(ctx context.Context, now time.Time) (*dashboard.Overview, error) {
	o := &dashboard.Overview{
		Hour: dashboard.Window{Since: now.Add(-time.Hour)},
		Day:  dashboard.Window{Since: now.Add(-24 * time.Hour)},
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, overviewTimeout); err != nil {
			return fmt.Errorf("set statement timeout: %w", err)
		}
		if err := tx.QueryRow(ctx, attemptsSQL, o.Day.Since, o.Hour.Since).Scan(
			&o.Day.Attempts, &o.Day.Succeeded, &o.Hour.Attempts, &o.Hour.Succeeded); err != nil {
			return fmt.Errorf("count attempts: %w", err)
		}
		if err := tx.QueryRow(ctx, deliveriesSQL, o.Day.Since, o.Hour.Since).Scan(
			&o.Day.Deliveries, &o.Day.Failed, &o.Day.Skipped, &o.Hour.Deliveries, &o.Hour.Failed, &o.Hour.Skipped); err != nil {
			return fmt.Errorf("count deliveries: %w", err)
		}
		var lag []float64
		if err := tx.QueryRow(ctx, lagSQL, o.Hour.Since).Scan(&o.Lag.Count, &lag); err != nil {
			return fmt.Errorf("first-attempt lag: %w", err)
		}
		if len(lag) == 3 {
			o.Lag.P50, o.Lag.P95, o.Lag.P99 = seconds(lag[0]), seconds(lag[1]), seconds(lag[2])
		}
		rows, err := tx.Query(ctx, queueSQL, queueStates)
		if err != nil {
			return fmt.Errorf("queue depth: %w", err)
		}
		if o.Queue, err = pgx.CollectRows(rows, pgx.RowToStructByPos[dashboard.QueueCount]); err != nil {
			return fmt.Errorf("queue depth: %w", err)
		}
		if err := tx.QueryRow(ctx, endpointCountsSQL, delivery.EndpointEnabled, delivery.EndpointDisabled,
			delivery.BreakerClosed).Scan(&o.OpenBreakersCount, &o.DisabledCount, &o.PausedCount); err != nil {
			return fmt.Errorf("count endpoints: %w", err)
		}
		if o.OpenBreakers, err = endpointList(ctx, tx, openBreakersSQL, delivery.EndpointEnabled); err != nil {
			return fmt.Errorf("open breakers: %w", err)
		}
		if o.Disabled, err = endpointList(ctx, tx, disabledSQL); err != nil {
			return fmt.Errorf("disabled endpoints: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

func endpointList(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]dashboard.EndpointRow, error) {
	rows, err := tx.Query(ctx, sql, append([]any{dashboard.OverviewListLimit}, args...)...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (dashboard.EndpointRow, error) { return scanEndpointRow(row, false) })
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
