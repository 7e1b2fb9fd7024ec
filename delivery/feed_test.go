package delivery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A late commit below the highest sent position is still read while the
// window waits for it; once Lag has passed it is settled past, and nothing
// sent is read twice.
func TestFeedWindow(t *testing.T) {
	t.Parallel()

	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w := NewFeedWindow(10, 5*time.Second)
	after, skip := w.Read()
	require.Equal(t, int64(10), after)
	require.Empty(t, skip)

	// 11 and 13 commit; 12 is still in flight.
	w.Sent(11, start)
	w.Sent(13, start.Add(time.Second))
	w.Settle(start.Add(2 * time.Second))
	after, skip = w.Read()
	require.Equal(t, int64(10), after, "12 may still commit: nothing is settled within the lag")
	require.Equal(t, []int64{11, 13}, skip, "what was sent is not sent again")

	// 12 commits late, within the lag, and is read.
	w.Sent(12, start.Add(3*time.Second))
	w.Settle(start.Add(5*time.Second + time.Millisecond))
	after, skip = w.Read()
	require.Equal(t, int64(11), after, "11 was sent more than Lag ago")
	require.Equal(t, []int64{12, 13}, skip)

	w.Settle(start.Add(time.Minute))
	after, skip = w.Read()
	require.Equal(t, int64(13), after)
	require.Empty(t, skip)

	w.Sent(9, start.Add(time.Minute))
	_, skip = w.Read()
	require.Empty(t, skip, "a position at or below the settled one is never remembered")
}

// More than MaxPending sent events settle the oldest early.
func TestFeedWindowBounded(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w := NewFeedWindow(0, time.Hour)
	w.MaxPending = 3
	for seq := range int64(5) {
		w.Sent(seq+1, now)
	}
	w.Settle(now)
	after, skip := w.Read()
	require.Equal(t, int64(2), after)
	require.Equal(t, []int64{3, 4, 5}, skip)
}
