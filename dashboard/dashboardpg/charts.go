package dashboardpg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/dashboard"
)

// Chart queries. $1 is the start of the window, $2 its end, $3 the bucket
// in seconds. Buckets are aligned on the window's start (date_bin's
// origin), so the last one ends now.
const (
	// chartCountsSQL counts a day of attempts by bucket from
	// delivery_attempts_started alone (index-only), as the overview's day
	// figures do.
	chartCountsSQL = `SELECT date_bin(make_interval(secs => $3), started_at, $1) AS bucket, count(*),
		count(*) FILTER (WHERE error_class = '' AND response_status BETWEEN 200 AND 299)
		FROM delivery_attempts WHERE started_at >= $1 AND started_at < $2 GROUP BY 1`
	// chartLagSQL takes each bucket's p99 first-attempt lag over its latest
	// $4 first attempts, each looking its delivery up by primary key: the
	// cost is bounded by buckets × $4 lookups however busy the day was.
	chartLagSQL = `SELECT b.start, count(l.lag), COALESCE(percentile_cont(0.99) WITHIN GROUP (ORDER BY l.lag), 0)
		FROM generate_series($1::timestamptz, $2::timestamptz - make_interval(secs => $3), make_interval(secs => $3)) AS b(start)
		CROSS JOIN LATERAL (
			SELECT greatest(extract(epoch FROM a.started_at -
				(SELECT d.created_at FROM deliveries d WHERE d.id = a.delivery_id))::float8, 0) AS lag
			FROM delivery_attempts a
			WHERE a.started_at >= b.start AND a.started_at < b.start + make_interval(secs => $3) AND a.number = 1
			ORDER BY a.started_at DESC LIMIT $4) l
		GROUP BY b.start`
)

// Charts implements dashboard.ReadModel.
func (s *Store) Charts(ctx context.Context, now time.Time) (*dashboard.Charts, error) {
	// Postgres keeps microseconds: buckets it returns must land exactly on
	// the ones laid out here.
	now = now.Truncate(time.Microsecond)
	since := now.Add(-dashboard.ChartWindow)
	c := &dashboard.Charts{Since: since, Points: make([]dashboard.ChartPoint, dashboard.ChartBuckets)}
	for i := range c.Points {
		c.Points[i].Start = since.Add(time.Duration(i) * dashboard.ChartBucket)
	}
	// bucket finds the point a bucket's start belongs to.
	bucket := func(start time.Time) (*dashboard.ChartPoint, error) {
		i := int(start.Sub(since) / dashboard.ChartBucket)
		if i < 0 || i >= len(c.Points) {
			return nil, fmt.Errorf("bucket %s outside the window", start)
		}
		return &c.Points[i], nil
	}
	step := dashboard.ChartBucket.Seconds()
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('statement_timeout', $1, true)`, overviewTimeout); err != nil {
			return fmt.Errorf("set statement timeout: %w", err)
		}
		rows, err := tx.Query(ctx, chartCountsSQL, since, now, step)
		if err != nil {
			return fmt.Errorf("chart attempts: %w", err)
		}
		var (
			start         time.Time
			attempts, ok2 int
		)
		_, err = pgx.ForEachRow(rows, []any{&start, &attempts, &ok2}, func() error {
			p, err := bucket(start)
			if err != nil {
				return err
			}
			p.Attempts, p.Succeeded = attempts, ok2
			return nil
		})
		if err != nil {
			return fmt.Errorf("chart attempts: %w", err)
		}
		rows, err = tx.Query(ctx, chartLagSQL, since, now, step, dashboard.LagSample)
		if err != nil {
			return fmt.Errorf("chart lag: %w", err)
		}
		var (
			n   int
			p99 float64
		)
		_, err = pgx.ForEachRow(rows, []any{&start, &n, &p99}, func() error {
			p, err := bucket(start)
			if err != nil {
				return err
			}
			p.LagCount, p.LagP99 = n, seconds(p99)
			return nil
		})
		if err != nil {
			return fmt.Errorf("chart lag: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
