package delivery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func attempt(t *testing.T, b *Breakers, endpointID string, success bool) {
	t.Helper()
	done, _, ok := b.Allow(endpointID)
	require.True(t, ok, "breaker refused unexpectedly")
	done(success)
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()

	b := NewBreakers(BreakerSettings{OpenFor: 150 * time.Millisecond})
	for range 4 {
		attempt(t, b, "we_1", false)
	}
	require.Zero(t, b.OpenCount(), "four failures keep it closed")
	attempt(t, b, "we_1", false)
	require.Equal(t, 1, b.OpenCount())

	_, wait, ok := b.Allow("we_1")
	require.False(t, ok)
	require.Greater(t, wait, 50*time.Millisecond)
	require.LessOrEqual(t, wait, 150*time.Millisecond)

	attempt(t, b, "we_2", true) // other endpoints are unaffected
	changes := b.TakeChanges()
	require.Len(t, changes, 1)
	require.Equal(t, "we_1", changes[0].EndpointID)
	require.Equal(t, BreakerOpen, changes[0].State)
	require.WithinDuration(t, changes[0].At.Add(150*time.Millisecond), changes[0].NextProbe, time.Millisecond)
	require.Empty(t, b.TakeChanges(), "changes are handed out once")

	time.Sleep(wait)
	done, _, ok := b.Allow("we_1")
	require.True(t, ok, "half-open lets a probe through")
	_, wait, ok = b.Allow("we_1")
	require.False(t, ok, "only one probe at a time")
	require.Equal(t, time.Second, wait)
	done(true)
	require.Zero(t, b.OpenCount())
	require.Equal(t, BreakerClosed, b.TakeChanges()[0].State, "the latest change wins")
	attempt(t, b, "we_1", true)
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	t.Parallel()

	b := NewBreakers(BreakerSettings{OpenFor: 50 * time.Millisecond, ConsecutiveFailures: 2})
	attempt(t, b, "we_1", false)
	attempt(t, b, "we_1", false)
	_, wait, ok := b.Allow("we_1")
	require.False(t, ok)
	time.Sleep(wait)
	attempt(t, b, "we_1", false)
	_, _, ok = b.Allow("we_1")
	require.False(t, ok, "a failed probe opens it again")
}

func TestBreakerOpensOnFailureRatio(t *testing.T) {
	t.Parallel()

	b := NewBreakers(BreakerSettings{})
	// Alternate failures and successes: never five failures in a row.
	for i := range 19 {
		attempt(t, b, "we_1", i%2 == 1)
	}
	require.Zero(t, b.OpenCount(), "below 20 attempts the ratio does not count")
	attempt(t, b, "we_1", false) // 20 attempts, 10 failures: 50 %
	require.Equal(t, 1, b.OpenCount())
}
