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
