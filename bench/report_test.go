package bench

import (
	"bytes"
	"testing"

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
