package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNiceCeil(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ in, want float64 }{
		{0, 1}, {-3, 1}, {0.3, 0.5}, {1, 1}, {1.2, 2}, {2.1, 2.5}, {3970, 5000}, {99, 100}, {100, 100}, {101, 200}, {24, 25},
	} {
		require.InDelta(t, tt.want, niceCeil(tt.in), 1e-9, "%g", tt.in)
	}
}

// testCharts is a day whose hours 0, 1, 3 and 23 have attempts: hour 2
// has none, so the lines break there.
func testCharts(now time.Time) *Charts {
	since := now.Add(-ChartWindow)
	c := &Charts{Since: since, Points: make([]ChartPoint, ChartBuckets)}
	for i := range c.Points {
		c.Points[i].Start = since.Add(time.Duration(i) * ChartBucket)
	}
	c.Points[0] = ChartPoint{Start: since, Attempts: 120, Succeeded: 120, LagCount: 100, LagP99: 40 * time.Millisecond}
	c.Points[1] = ChartPoint{Start: since.Add(time.Hour), Attempts: 60, Succeeded: 45, LagCount: 50, LagP99: 3970 * time.Millisecond}
	c.Points[3] = ChartPoint{Start: since.Add(3 * time.Hour), Attempts: 6, Succeeded: 3}
	c.Points[23] = ChartPoint{Start: since.Add(23 * time.Hour), Attempts: 30, Succeeded: 30, LagCount: 30, LagP99: 20 * time.Millisecond}
	return c
}

func TestOverviewCharts(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 12, 1, 14, 30, 0, 0, time.UTC)
	charts := overviewCharts(testCharts(now), now)
	require.Len(t, charts, 3)
	success, lag, volume := charts[0], charts[1], charts[2]
	step := (plotRight - plotLeft) / 24

	t.Run("Success", func(t *testing.T) {
		require.Equal(t, "success", success.ID)
		require.False(t, success.Bars)
		require.Len(t, success.Marks, 4, "a dot per hour with attempts")
		values := []string{}
		for _, m := range success.Marks {
			values = append(values, m.Value)
		}
		require.Equal(t, []string{"100.0", "75.0", "50.0", "100.0"}, values)
		require.Equal(t, "2026-11-30T14:30:00Z", success.Marks[0].Bucket)
		require.Equal(t, round2(plotLeft+step/2), success.Marks[0].X)
		require.Equal(t, plotTop, success.Marks[0].Y, "100% at the top")
		require.Equal(t, round2((plotTop+plotBottom)/2), success.Marks[2].Y, "50% halfway")
		require.Equal(t, "15:30–16:30 UTC: 75.0%", success.Marks[1].Label)
		require.Len(t, success.Paths, 3, "the line breaks at the hours without attempts")
		require.Equal(t, []chartTick{{plotBottom, "0.0%"}, {round2((plotTop + plotBottom) / 2), "50.0%"}, {plotTop, "100%"}}, success.YTicks)
		require.Equal(t, []string{"−24 h", "−18 h", "−12 h", "−6 h", "now"}, labels(success.XTicks))
		require.Equal(t, plotRight, success.XTicks[4].Pos)
		require.Equal(t, "91.6% of 216 attempts got a 2xx; lowest hour 50.0% at 17:30 UTC.", success.Summary)
		require.Len(t, success.Rows, 24)
		require.Equal(t, chartRow{"16:30–17:30", "—"}, success.Rows[2])
		require.Equal(t, chartRow{"15:30–16:30", "75.0%"}, success.Rows[1])
	})

	t.Run("Lag", func(t *testing.T) {
		require.Len(t, lag.Marks, 3, "hours with first attempts only")
		require.Equal(t, "3970", lag.Marks[1].Value)
		require.Equal(t, []string{"0 ms", "2.5 s", "5 s"}, labels(lag.YTicks), "a round scale above the slowest hour")
		require.Equal(t, "Slowest hour: 3.97 s at 15:30 UTC.", lag.Summary)
	})

	t.Run("Volume", func(t *testing.T) {
		require.True(t, volume.Bars)
		require.Len(t, volume.Marks, 24, "a bar per hour, empty ones flat")
		require.Equal(t, "2.00", volume.Marks[0].Value)
		require.Equal(t, "0.00", volume.Marks[2].Value)
		require.Zero(t, volume.Marks[2].H)
		require.Equal(t, plotTop, volume.Marks[0].Y, "the busiest hour tops a scale of 2/min")
		require.Equal(t, "216 attempts in 24 hours; busiest hour 2/min at 14:30 UTC.", volume.Summary)
		require.Equal(t, []string{"0/min", "1/min", "2/min"}, labels(volume.YTicks))
		require.Equal(t, "14:30–15:30 UTC: 2/min", volume.Marks[0].Label)
		require.Equal(t, "17:30–18:30 UTC: 0.1/min", volume.Marks[3].Label)
	})

	t.Run("Empty", func(t *testing.T) {
		empty := testCharts(now)
		for i := range empty.Points {
			empty.Points[i] = ChartPoint{Start: empty.Points[i].Start}
		}
		charts := overviewCharts(empty, now)
		require.Empty(t, charts[0].Marks)
		require.Empty(t, charts[0].Paths)
		require.Equal(t, "No attempt in the last 24 hours.", charts[0].Summary)
		require.Equal(t, "No first attempt in the last 24 hours.", charts[1].Summary)
		require.Len(t, charts[2].Marks, 24)
	})
}

func labels(ticks []chartTick) []string {
	var out []string
	for _, t := range ticks {
		out = append(out, t.Label)
	}
	return out
}
