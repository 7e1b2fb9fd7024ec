package dashboard

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFormatRate(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		rate float64
		want string
		tone string
	}{
		{-1, "—", "none"},
		{0, "0.0%", "bad"},
		{0.5, "50.0%", "bad"},
		{0.9, "90.0%", "warn"},
		{0.98765, "98.7%", "warn"},
		{0.99, "99.0%", "good"},
		{0.99999, "99.9%", "good"},
		{1, "100%", "good"},
	} {
		require.Equal(t, tt.want, formatRate(tt.rate), "%v", tt.rate)
		require.Equal(t, tt.tone, rateTone(tt.rate), "%v", tt.rate)
	}
}

func TestRelative(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var never *time.Time
	for _, tt := range []struct {
		at   any
		want string
	}{
		{now.Add(-2 * time.Second), "just now"},
		{now.Add(-42 * time.Second), "42 s ago"},
		{now.Add(-5 * time.Minute), "5 min ago"},
		{now.Add(-3 * time.Hour), "3 h ago"},
		{now.Add(-72 * time.Hour), "3 days ago"},
		{now.Add(90 * time.Second), "in 1 min"},
		{never, "never"},
		{time.Time{}, "never"},
	} {
		require.Equal(t, tt.want, relative(tt.at, now))
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ms"},
		{1500 * time.Microsecond, "1.5 ms"},
		{250 * time.Millisecond, "250 ms"},
		{12 * time.Second, "12.0 s"},
		{3 * time.Minute, "3m0s"},
	} {
		require.Equal(t, tt.want, formatDuration(tt.d))
	}
	require.Equal(t, "12,345,678", formatCount(12345678))
	require.Equal(t, "999", formatCount(999))
}
