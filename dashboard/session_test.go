package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSessionLifetime(t *testing.T) {
	t.Parallel()

	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	timeouts := SessionTimeouts{}.withDefaults()
	var allDay []time.Duration // activity every 50 minutes for 11 h 40 min
	for d := 50 * time.Minute; d < 12*time.Hour; d += 50 * time.Minute {
		allDay = append(allDay, d)
	}
	require.Equal(t, SessionTimeouts{Idle: time.Hour, Max: 12 * time.Hour}, timeouts)

	for _, tt := range []struct {
		name string
		// seen are the times of requests after the start; each must find
		// the session active.
		seen   []time.Duration
		at     time.Duration
		active bool
	}{
		{"Fresh", nil, 0, true},
		{"JustBeforeIdle", nil, time.Hour - time.Second, true},
		{"Idle", nil, time.Hour, false},
		{"KeptAlive", []time.Duration{50 * time.Minute, 100 * time.Minute}, 150 * time.Minute, true},
		{"IdleAfterActivity", []time.Duration{50 * time.Minute}, 111 * time.Minute, false},
		{"ActivityWithinAMinuteIsNotWritten", []time.Duration{30 * time.Second}, time.Hour + 10*time.Second, false},
		{"Absolute", allDay, 12 * time.Hour, false},
		{"BeforeAbsolute", allDay, 12*time.Hour - time.Second, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newSession("dss_1", "Ada", "token", "192.0.2.1", "test", start, timeouts)
			for _, d := range tt.seen {
				require.True(t, s.Active(start.Add(d)))
				s.touch(start.Add(d), timeouts)
			}
			require.Equal(t, tt.active, s.Active(start.Add(tt.at)))
			require.False(t, s.IdleExpires.After(s.Expires), "idle expiry never outlives the session")
		})
	}
}

func TestSessionTouchWritesOncePerMinute(t *testing.T) {
	t.Parallel()

	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	timeouts := SessionTimeouts{Idle: time.Hour, Max: 12 * time.Hour}
	s := newSession("dss_1", "Ada", "token", "", "", start, timeouts)
	require.False(t, s.touch(start.Add(59*time.Second), timeouts))
	require.Equal(t, start, s.LastSeen)
	require.True(t, s.touch(start.Add(time.Minute), timeouts))
	require.Equal(t, start.Add(time.Minute), s.LastSeen)
	require.Equal(t, start.Add(time.Hour+time.Minute), s.IdleExpires)
}
