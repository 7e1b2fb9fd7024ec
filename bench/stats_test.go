package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	t.Parallel()

	var l Latencies
	require.Zero(t, l.Percentile(99))
	for i := 100; i >= 1; i-- {
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 50*time.Millisecond, l.Percentile(50))
	require.Equal(t, 95*time.Millisecond, l.Percentile(95))
	require.Equal(t, 99*time.Millisecond, l.Percentile(99))
	require.Equal(t, 100*time.Millisecond, l.Percentile(100))
	require.Equal(t, 100*time.Millisecond, l[0], "the input is not reordered")
}
