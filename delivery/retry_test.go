package delivery

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestBackoffSchedule(t *testing.T) {
	t.Parallel()

	p := RetryPolicy{}.WithDefaults()
	require.Equal(t, 10, p.MaxAttempts())
	var total time.Duration
	for attempts, want := range map[int]time.Duration{
		1: 5 * time.Second, 2: 5 * time.Minute, 3: 30 * time.Minute, 4: 2 * time.Hour, 5: 5 * time.Hour,
		6: 10 * time.Hour, 7: 14 * time.Hour, 8: 20 * time.Hour, 9: 24 * time.Hour,
	} {
		d, ok := p.Backoff(attempts, fixed(0.5)) // 0.5 → no jitter
		require.True(t, ok)
		require.Equal(t, want, d, "after attempt %d", attempts)
		total += d
	}
	require.InDelta(t, (3 * 24 * time.Hour).Hours(), total.Hours(), 12, "about three days in all")

	_, ok := p.Backoff(10, fixed(0.5))
	require.False(t, ok, "no wait after the last attempt")
	_, ok = p.Backoff(0, fixed(0.5))
	require.False(t, ok)
}

func TestBackoffJitter(t *testing.T) {
	t.Parallel()

	p := RetryPolicy{}.WithDefaults()
	low, _ := p.Backoff(2, fixed(0))
	high, _ := p.Backoff(2, fixed(0.9999999))
	require.Equal(t, 4*time.Minute, low, "-20 %")
	require.InDelta(t, float64(6*time.Minute), float64(high), float64(time.Millisecond), "+20 %")
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	p := RetryPolicy{}.WithDefaults()
	for _, tt := range []struct {
		name   string
		status int
		value  string
		want   time.Duration
		ok     bool
	}{
		{"seconds on 429", 429, "120", 2 * time.Minute, true},
		{"seconds on 503", 503, "7", 7 * time.Second, true},
		{"http date", 429, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"clamped up", 429, "0", time.Second, true},
		{"date in the past clamped up", 503, now.Add(-time.Hour).Format(http.TimeFormat), time.Second, true},
		{"clamped down", 429, "999999999", 24 * time.Hour, true},
		{"overflowing", 429, "9223372036854775807", 24 * time.Hour, true},
		{"negative ignored", 429, "-5", 0, false},
		{"garbage ignored", 429, "soon", 0, false},
		{"absent", 429, "", 0, false},
		{"ignored on 500", 500, "60", 0, false},
		{"ignored on 200", 200, "60", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h := http.Header{}
			if tt.value != "" {
				h.Set("Retry-After", tt.value)
			}
			got, ok := p.RetryAfter(tt.status, h, now)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	p := RetryPolicy{}.WithDefaults()
	answer := func(status int, header ...string) AttemptResult {
		h := http.Header{}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return AttemptResult{StatusCode: status, Header: h}
	}
	timeout := AttemptResult{Err: &AttemptError{Class: ClassTimeout, Err: errors.New("deadline")}}
	for _, tt := range []struct {
		name     string
		res      AttemptResult
		attempts int
		want     RetryDecision
	}{
		{"2xx delivers", answer(204), 1, RetryDecision{Verdict: Delivered}},
		{"2xx on the last attempt delivers", answer(200), 10, RetryDecision{Verdict: Delivered}},
		{"500 retries on schedule", answer(500), 1, RetryDecision{Verdict: Retry, RetryIn: 5 * time.Second}},
		{"timeout retries on schedule", timeout, 3, RetryDecision{Verdict: Retry, RetryIn: 30 * time.Minute}},
		{"redirect is a failure", answer(302, "Location", "https://elsewhere.test"), 2, RetryDecision{Verdict: Retry, RetryIn: 5 * time.Minute}},
		{"410 disables", answer(410), 1, RetryDecision{Verdict: Gone}},
		{"410 on the last attempt still disables", answer(410), 10, RetryDecision{Verdict: Gone}},
		{"429 honours Retry-After", answer(429, "Retry-After", "42"), 1, RetryDecision{Verdict: Retry, RetryIn: 42 * time.Second, HonoredRetryAfter: true}},
		{"503 honours Retry-After", answer(503, "Retry-After", "3600"), 4, RetryDecision{Verdict: Retry, RetryIn: time.Hour, HonoredRetryAfter: true}},
		{"429 without Retry-After follows the schedule", answer(429), 1, RetryDecision{Verdict: Retry, RetryIn: 5 * time.Second}},
		{"last attempt exhausts", answer(500), 10, RetryDecision{Verdict: Exhausted}},
		{"Retry-After does not extend past the last attempt", answer(429, "Retry-After", "5"), 10, RetryDecision{Verdict: Exhausted}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, p.Decide(tt.res, tt.attempts, now, fixed(0.5)))
		})
	}
}

func TestCapWait(t *testing.T) {
	t.Parallel()
	for putOff, want := range map[int]time.Duration{
		-1: 500 * time.Millisecond, 0: 500 * time.Millisecond, 1: time.Second, 2: 2 * time.Second,
		3: 4 * time.Second, 4: 8 * time.Second, 5: 8 * time.Second, 1000: 8 * time.Second,
	} {
		require.Equal(t, want, CapWait(putOff), "put off %d times", putOff)
	}
}
