package dashboardpg

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
)

func TestChartsEmpty(t *testing.T) {
	t.Parallel()

	now := time.Now()
	c, err := New(pgtest.NewPool(t)).Charts(context.Background(), now)
	require.NoError(t, err)
	require.Equal(t, now.Add(-24*time.Hour).Truncate(time.Microsecond), c.Since, "to Postgres's precision")
	require.Len(t, c.Points, 24, "every bucket, empty ones too")
	for i, p := range c.Points {
		require.Equal(t, dashboard.ChartPoint{Start: c.Since.Add(time.Duration(i) * time.Hour)}, p)
	}
}

// Each bucket's figures, from attempts whose times and outcomes are known:
// buckets are the hours before now, the first starting 24 hours ago.
func TestCharts(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	// Nanoseconds, as a clock gives them: buckets must still line up with
	// Postgres's microseconds.
	now := time.Now().Truncate(time.Second).Add(123456789)
	since := now.Add(-24 * time.Hour)
	merchant := dashboardtest.Merchant(t, pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, pool, merchant, dashboardtest.EndpointOpts{})
	deliver := func(status delivery.Status, created time.Time, attempts ...dashboardtest.AttemptOpts) {
		dashboardtest.Delivery(t, pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: status, Created: created, Attempts: attempts})
	}

	// The last bucket: four deliveries with first-attempt lags of 1 to 4 s,
	// the first failing once (500) before a 204.
	for i, lag := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second} {
		created := now.Add(-30 * time.Minute)
		attempts := []dashboardtest.AttemptOpts{{Status: 200, StartedAt: created.Add(lag)}}
		if i == 0 {
			attempts = []dashboardtest.AttemptOpts{{Status: 500, StartedAt: created.Add(lag)}, {Status: 204, StartedAt: created.Add(time.Minute)}}
		}
		deliver(delivery.StatusSucceeded, created, attempts...)
	}
	// The first bucket starts exactly at since: an attempt then counts.
	deliver(delivery.StatusFailed, since.Add(-10*time.Second),
		dashboardtest.AttemptOpts{StartedAt: since, ErrorClass: delivery.ClassTimeout},
		dashboardtest.AttemptOpts{Status: 503, StartedAt: since.Add(59 * time.Minute)})
	// Bucket 5: a retry whose first attempt was before the window.
	deliver(delivery.StatusSucceeded, since.Add(-2*time.Hour),
		dashboardtest.AttemptOpts{Status: 500, StartedAt: since.Add(-2 * time.Hour)},
		dashboardtest.AttemptOpts{Status: 200, StartedAt: since.Add(5*time.Hour + 30*time.Minute)})
	// Outside the window: before it, and now (the window ends before now).
	deliver(delivery.StatusSucceeded, since.Add(-time.Hour), dashboardtest.AttemptOpts{Status: 200, StartedAt: since.Add(-time.Second)})
	deliver(delivery.StatusSucceeded, now.Add(-time.Second), dashboardtest.AttemptOpts{Status: 200, StartedAt: now})

	c, err := New(pool).Charts(ctx, now)
	require.NoError(t, err)
	require.Len(t, c.Points, 24)
	since = since.Truncate(time.Microsecond)
	require.Equal(t, since, c.Since)
	last := c.Points[23]
	require.Equal(t, since.Add(23*time.Hour), last.Start)
	require.Equal(t, 5, last.Attempts)
	require.Equal(t, 4, last.Succeeded)
	require.Equal(t, 4, last.LagCount, "first attempts only")
	require.InDelta(t, 3.97, last.LagP99.Seconds(), 0.001)

	first := c.Points[0]
	require.Equal(t, since, first.Start)
	require.Equal(t, 2, first.Attempts)
	require.Zero(t, first.Succeeded)
	require.Equal(t, 1, first.LagCount)
	require.Equal(t, 10*time.Second, first.LagP99)

	require.Equal(t, dashboard.ChartPoint{Start: since.Add(5 * time.Hour), Attempts: 1, Succeeded: 1}, c.Points[5],
		"a retry counts, but has no first-attempt lag")
	for i, p := range c.Points {
		if i == 0 || i == 5 || i == 23 {
			continue
		}
		require.Equal(t, dashboard.ChartPoint{Start: since.Add(time.Duration(i) * time.Hour)}, p, "bucket %d", i)
	}
}
