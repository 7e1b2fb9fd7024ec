package delivery

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// The breakers run inside a testing/synctest bubble: time only moves when
// the test sleeps, at once and exactly, for gobreaker's clock and ours.

func attempt(t *testing.T, b *Breakers, endpointID string, up bool) {
	t.Helper()
	done, _, ok := b.Allow(endpointID)
	require.True(t, ok, "breaker refused unexpectedly")
	done(up)
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := NewBreakers(BreakerSettings{OpenFor: 30 * time.Second})
		for range 4 {
			attempt(t, b, "we_1", false)
		}
		require.Zero(t, b.OpenCount(), "four failures keep it closed")
		attempt(t, b, "we_1", true) // a success in between starts the count again
		for range 4 {
			attempt(t, b, "we_1", false)
		}
		require.Zero(t, b.OpenCount())
		attempt(t, b, "we_1", false)
		require.Equal(t, 1, b.OpenCount(), "the fifth failure in a row opens it")
		opened := time.Now()

		_, wait, ok := b.Allow("we_1")
		require.False(t, ok)
		require.Equal(t, 30*time.Second, wait, "until the probe, exactly")
		time.Sleep(10 * time.Second)
		_, wait, ok = b.Allow("we_1")
		require.False(t, ok)
		require.Equal(t, 20*time.Second, wait)

		attempt(t, b, "we_2", true) // other endpoints are unaffected
		changes := b.TakeChanges()
		require.Len(t, changes, 1)
		require.Equal(t, BreakerChange{EndpointID: "we_1", State: BreakerOpen, At: opened, NextProbe: opened.Add(30 * time.Second)}, changes[0])
		require.Empty(t, b.TakeChanges(), "changes are handed out once")

		time.Sleep(20 * time.Second)
		_, _, ok = b.Allow("we_1")
		require.False(t, ok, "open until the probe time has passed")
		time.Sleep(time.Nanosecond)
		done, _, ok := b.Allow("we_1")
		require.True(t, ok, "half-open lets a probe through")
		require.Equal(t, BreakerHalfOpen, b.TakeChanges()[0].State)
		_, wait, ok = b.Allow("we_1")
		require.False(t, ok, "only one probe at a time")
		require.Equal(t, time.Second, wait)
		done(true)
		require.Zero(t, b.OpenCount())
		require.Equal(t, []BreakerChange{{EndpointID: "we_1", State: BreakerClosed, At: time.Now()}}, b.TakeChanges())
		attempt(t, b, "we_1", true)
	})
}

func TestBreakerFailedProbeReopens(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := NewBreakers(BreakerSettings{OpenFor: time.Minute, ConsecutiveFailures: 2})
		attempt(t, b, "we_1", false)
		attempt(t, b, "we_1", false)
		_, wait, ok := b.Allow("we_1")
		require.False(t, ok)
		time.Sleep(wait + time.Nanosecond)
		attempt(t, b, "we_1", false)
		_, wait, ok = b.Allow("we_1")
		require.False(t, ok, "a failed probe opens it again")
		require.Equal(t, time.Minute, wait, "for a whole period again")
	})
}

// The ratio rule: at least half of at least 20 attempts within the window.
// Exactly 10 failures of 20 open it; 9 of 20, or 10 of 19, do not.
func TestBreakerOpensOnFailureRatio(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Alternate so that there are never five failures in a row: 19
		// attempts, 9 of them failures (the odd ones).
		fill := func(b *Breakers, id string) {
			for i := range 19 {
				attempt(t, b, id, i%2 == 0)
			}
		}
		b := NewBreakers(BreakerSettings{})
		fill(b, "half")
		require.Zero(t, b.OpenCount(), "9 of 19")
		attempt(t, b, "half", false) // 10 of 20: 50 %
		require.Equal(t, 1, b.OpenCount(), "exactly half opens it")

		fill(b, "less")
		attempt(t, b, "less", true) // 9 of 20: 45 %
		require.Equal(t, 1, b.OpenCount(), "less than half keeps it closed")

		for i := range 18 {
			attempt(t, b, "few", i%2 == 0) // 9 failures of 18
		}
		attempt(t, b, "few", false) // 10 of 19: more than half, but below 20 attempts
		require.Equal(t, 1, b.OpenCount(), "fewer than 20 attempts never open it by ratio")
	})
}

// The ratio counts a rolling window: failures older than it are forgotten.
func TestBreakerWindowRolls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := NewBreakers(BreakerSettings{Window: time.Minute})
		for i := range 19 {
			attempt(t, b, "we_1", i%2 == 0) // 9 failures of 19
		}
		time.Sleep(2 * time.Minute) // all of them out of the window
		// 10 failures of 19, none five in a row. Had the old attempts still
		// counted, the last failure would have made 19 of 38 and opened it.
		for i := range 19 {
			attempt(t, b, "we_1", i%2 == 1)
		}
		require.Zero(t, b.OpenCount(), "the old attempts are forgotten")
		attempt(t, b, "we_1", false)
		require.Equal(t, 1, b.OpenCount(), "11 of 20 in the window")
	})
}
