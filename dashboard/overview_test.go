package dashboard

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueueTable(t *testing.T) {
	t.Parallel()

	table := newQueueTable([]QueueCount{
		{Queue: "default", State: "available", Count: 2},
		{Queue: "delivery", State: "scheduled", Count: 7},
		{Queue: "reports", State: "retryable", Count: 1},
		{Queue: "delivery", State: "completed", Count: 99}, // never read, never shown
	})
	require.Equal(t, []string{"delivery", "default", "reports"}, table.Queues, "Herald's queues first, whatever River has")
	require.Len(t, table.Rows, len(queueStates))
	got := map[string][]int{}
	for _, row := range table.Rows {
		got[row.State] = row.Counts
	}
	require.Equal(t, []int{0, 2, 0}, got["available"])
	require.Equal(t, []int{7, 0, 0}, got["scheduled"])
	require.Equal(t, []int{0, 0, 1}, got["retryable"])
	require.Equal(t, []int{0, 0, 0}, got["cancelled"])
}
