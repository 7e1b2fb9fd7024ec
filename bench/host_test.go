package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The steal share is the steal column's growth over the growth of the
// first eight columns (guest time is inside user already); a /proc/stat
// without that column, or none at all, is no reading.
func TestCPUTimesStealShare(t *testing.T) {
	t.Parallel()

	before, ok := ParseCPUTimes([]byte("cpu  100 0 20 800 5 0 5 70 40 0\ncpu0 50 0 10 400 2 0 2 35 20 0\nintr 1\n"))
	require.True(t, ok)
	require.Equal(t, CPUTimes{Total: 1000, Steal: 70}, before)
	after, ok := ParseCPUTimes([]byte("cpu  400 0 50 1300 5 0 15 230 90 0\n"))
	require.True(t, ok)
	require.InDelta(t, 0.16, after.StealShare(before), 1e-9) // 160 of 1,000 ticks

	require.Zero(t, before.StealShare(after), "counters that went backwards are no reading")
	require.Zero(t, before.StealShare(before))
	for _, stat := range []string{"", "intr 1\n", "cpu  100 0 20 800 5 0 5\n", "cpu  100 0 20 800 5 0 5 x 0 0\n"} {
		_, ok := ParseCPUTimes([]byte(stat))
		require.False(t, ok, "%q", stat)
	}
}
