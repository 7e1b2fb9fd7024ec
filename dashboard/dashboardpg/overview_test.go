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

func TestOverviewEmpty(t *testing.T) {
	t.Parallel()

	o, err := New(pgtest.NewPool(t)).Overview(context.Background(), time.Now())
	require.NoError(t, err)
	require.Equal(t, -1.0, o.Hour.SuccessRate())
	require.Zero(t, o.Lag)
	require.Empty(t, o.Queue)
	require.Empty(t, o.OpenBreakers)
	require.Empty(t, o.Disabled)
}

// Every figure of the overview, from rows whose times and outcomes are known.
func TestOverview(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	now := time.Now().Truncate(time.Second)
	merchant := dashboardtest.Merchant(t, pool, "Acme")
	healthy := dashboardtest.Endpoint(t, pool, merchant, dashboardtest.EndpointOpts{})
	probe := now.Add(20 * time.Second)
	open := dashboardtest.Endpoint(t, pool, merchant, dashboardtest.EndpointOpts{URL: "https://open.example.com/hooks",
		BreakerState: delivery.BreakerOpen, NextProbeAt: &probe})
	dashboardtest.Endpoint(t, pool, merchant, dashboardtest.EndpointOpts{Status: delivery.EndpointDisabled,
		DisabledReason: delivery.DisabledReasonGone})
	dashboardtest.Endpoint(t, pool, merchant, dashboardtest.EndpointOpts{Paused: true})

	// Last hour: four deliveries with lags of 1, 2, 3 and 4 s; one of them
	// failed its first attempt and then succeeded.
	for i, lag := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second} {
		created := now.Add(-10 * time.Minute)
		attempts := []dashboardtest.AttemptOpts{{Status: 200, StartedAt: created.Add(lag)}}
		if i == 0 {
			attempts = []dashboardtest.AttemptOpts{{Status: 500, StartedAt: created.Add(lag)}, {Status: 204, StartedAt: created.Add(time.Minute)}}
		}
		dashboardtest.Delivery(t, pool, merchant, healthy, dashboardtest.DeliveryOpts{Status: delivery.StatusSucceeded,
			Created: created, Attempts: attempts})
	}
	// Earlier today: a failed delivery (two failed attempts, one a timeout).
	created := now.Add(-5 * time.Hour)
	dashboardtest.Delivery(t, pool, merchant, open, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed, Created: created,
		Attempts: []dashboardtest.AttemptOpts{
			{ErrorClass: delivery.ClassTimeout, StartedAt: created.Add(time.Second)},
			{Status: 503, StartedAt: created.Add(time.Hour)},
		}})
	// Two days ago: outside every window.
	old := now.Add(-48 * time.Hour)
	dashboardtest.Delivery(t, pool, merchant, healthy, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed, Created: old,
		Attempts: []dashboardtest.AttemptOpts{{Status: 500, StartedAt: old}}})
	_, err := pool.Exec(ctx, `INSERT INTO river_job (kind, args, queue, state, max_attempts, scheduled_at, finalized_at)
		VALUES ('herald.deliver', '{}', 'delivery', 'available', 25, now(), NULL),
		('herald.deliver', '{}', 'delivery', 'available', 25, now(), NULL),
		('herald.deliver', '{}', 'delivery', 'scheduled', 25, now() + interval '1 hour', NULL),
		('herald.redrive', '{}', 'default', 'completed', 25, now(), now())`)
	require.NoError(t, err)

	o, err := New(pool).Overview(ctx, now)
	require.NoError(t, err)
	require.Equal(t, dashboard.Window{Since: now.Add(-time.Hour), Attempts: 5, Succeeded: 4, Deliveries: 4, Failed: 0}, o.Hour)
	require.Equal(t, dashboard.Window{Since: now.Add(-24 * time.Hour), Attempts: 7, Succeeded: 4, Deliveries: 5, Failed: 1}, o.Day)
	require.Equal(t, 4, o.Lag.Count, "first attempts only")
	require.Equal(t, 2500*time.Millisecond, o.Lag.P50)
	require.InDelta(t, 3.85, o.Lag.P95.Seconds(), 0.001)
	require.InDelta(t, 3.97, o.Lag.P99.Seconds(), 0.001)
	require.ElementsMatch(t, []dashboard.QueueCount{{Queue: "delivery", State: "available", Count: 2}, {Queue: "delivery", State: "scheduled", Count: 1}}, o.Queue,
		"completed jobs are left out")
	require.Equal(t, 1, o.OpenBreakersCount)
	require.Equal(t, 1, o.DisabledCount)
	require.Equal(t, 1, o.PausedCount)
	require.Len(t, o.OpenBreakers, 1)
	require.Equal(t, "https://open.example.com/hooks", o.OpenBreakers[0].URL)
	require.Equal(t, "Acme", o.OpenBreakers[0].MerchantName)
	require.WithinDuration(t, probe, *o.OpenBreakers[0].NextProbeAt, 0)
	require.Len(t, o.Disabled, 1)
	require.Equal(t, delivery.DisabledReasonGone, o.Disabled[0].DisabledReason)
}

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
