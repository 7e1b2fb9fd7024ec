package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The table ends with each costed row's WAL profile, largest share first
// as measured, without the crumbs; a row without one prints none.
func TestWriteTableWALProfile(t *testing.T) {
	t.Parallel()

	r := Report{Rows: []Row{
		{Scenario: "river no-op", Events: 10, PerSecond: 100, Cost: &Cost{WALBytes: 2600, RowsWritten: 3,
			WALByTable: []WALShare{{Table: "river_job", Part: "indexes", Bytes: 1850}, {Table: "river_job", Part: "rows", Bytes: 740}}}},
		{Scenario: "fairness 200/s", Events: 10, PerSecond: 200},
		{Scenario: "steady 500/s", Events: 10, PerSecond: 500, Cost: &Cost{WALBytes: 8100, RowsWritten: 7,
			WALByTable: []WALShare{{Table: "deliveries", Part: "indexes", Bytes: 1726}, {Table: "Transaction", Bytes: 43},
				{Table: "pg_statistic", Part: "rows", Bytes: 3}}}},
	}}
	var out bytes.Buffer
	require.NoError(t, r.WriteTable(&out))
	require.Contains(t, out.String(), "\nWAL bytes per unit, by table (pg_walinspect):\n"+
		"  river no-op: river_job indexes 1850 · river_job rows 740\n"+
		"  steady 500/s: deliveries indexes 1726 · Transaction 43\n")
	require.NotContains(t, out.String(), "fairness 200/s: ")
	require.NotContains(t, out.String(), "pg_statistic")
}

// A repeated scenario's row is its median run, whole (its rate and cost
// with it): by p99 for latency, by rate for throughput. It keeps every run
// in the order they ran, and the table lists them under the rows.
func TestMedianTrial(t *testing.T) {
	t.Parallel()

	ms := func(n int) Millis { return Millis(time.Duration(n) * time.Millisecond) }
	runs := []Row{
		{Scenario: "steady 1000/s", PerSecond: 990, P50: ms(7), P99: ms(45), Cost: &Cost{WALBytes: 7100, HostSteal: 0.17}},
		{Scenario: "steady 1000/s", PerSecond: 1000, P50: ms(6), P99: ms(12), Cost: &Cost{WALBytes: 7200}},
		{Scenario: "steady 1000/s", PerSecond: 998, P50: ms(8), P99: ms(19), Cost: &Cost{WALBytes: 7150, HostSteal: 0.024}},
	}
	got := MedianTrial(runs, ByP99)
	require.Equal(t, 998.0, got.PerSecond)
	require.Equal(t, ms(8), got.P50)
	require.Equal(t, ms(19), got.P99)
	require.Equal(t, 7150.0, got.Cost.WALBytes)
	require.Equal(t, []Trial{{PerSecond: 990, P50: ms(7), P99: ms(45), HostSteal: 0.17}, {PerSecond: 1000, P50: ms(6), P99: ms(12)},
		{PerSecond: 998, P50: ms(8), P99: ms(19), HostSteal: 0.024}}, got.Trials)
	require.Nil(t, runs[2].Trials, "the runs passed in are left as they were")

	// Of an even number, the lower middle one: a slow run never decides.
	require.Equal(t, ms(19), MedianTrial(append(runs, Row{P99: ms(80)}), ByP99).P99)
	require.Equal(t, ms(12), MedianTrial(runs[:2], ByP99).P99)
	require.Equal(t, ms(45), MedianTrial(runs[:1], ByP99).P99)

	// Throughput runs have no p99: the median is by rate.
	drains := []Row{{Scenario: "bulk drain", PerSecond: 5200}, {Scenario: "bulk drain", PerSecond: 4100},
		{Scenario: "bulk drain", PerSecond: 6300}}
	drain := MedianTrial(drains, ByRate)
	require.Equal(t, 5200.0, drain.PerSecond)

	var out bytes.Buffer
	require.NoError(t, (&Report{Rows: []Row{got, drain,
		{Scenario: "river no-op", PerSecond: 20000, Trials: drain.Trials[:1]}}}).WriteTable(&out))
	require.Contains(t, out.String(), "\nTrials, in the order they ran (each row above is the median one: by p99 where there is a p99, else by rate):\n"+
		"  steady 1000/s: p99 45.0 · 12.0 · 19.0 ms; per second 990 · 1000 · 998; host CPU steal 17 · 0 · 2 %\n"+
		"  bulk drain: per second 5200 · 4100 · 6300\n", "the host's steal is listed where a run measured some")
	require.NotContains(t, out.String(), "river no-op: per second", "a single run lists no trials")
}
