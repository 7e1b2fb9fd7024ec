package delivery

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the wait before each retry: attempt 1 is immediate,
// attempt 2 comes 5 s after it, … attempt 10 a day after attempt 9; about
// three days in all.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// RetryPolicy decides when a failed delivery is tried again.
type RetryPolicy struct {
	// Schedule lists the waits between attempts; it allows len(Schedule)+1
	// attempts. Default DefaultSchedule.
	Schedule []time.Duration
	// Jitter spreads each wait by ± this fraction so that retries of many
	// deliveries that failed together do not stampede. Default 0.2.
	Jitter float64
	// MinRetryAfter and MaxRetryAfter clamp an endpoint's Retry-After.
	// Defaults 1 s and 24 h.
	MinRetryAfter, MaxRetryAfter time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	if p.Schedule == nil {
		p.Schedule = DefaultSchedule
	}
	if p.Jitter == 0 {
		p.Jitter = 0.2
	}
	if p.MinRetryAfter == 0 {
		p.MinRetryAfter = time.Second
	}
	if p.MaxRetryAfter == 0 {
		p.MaxRetryAfter = 24 * time.Hour
	}
	return p
}

// MaxAttempts is how many attempts a delivery gets before it fails.
func (p RetryPolicy) MaxAttempts() int { return len(p.Schedule) + 1 }

// Backoff returns the jittered wait after the given number of attempts
// (1 after the first), and false when the attempts are used up. rnd returns
// a number in [0, 1), e.g. rand.Float64.
func (p RetryPolicy) Backoff(attempts int, rnd func() float64) (time.Duration, bool) {
	if attempts < 1 || attempts > len(p.Schedule) {
		return 0, false
	}
	base := p.Schedule[attempts-1]
	factor := 1 + p.Jitter*(2*rnd()-1)
	return time.Duration(float64(base) * factor), true
}

// RetryAfter reads an answer's Retry-After (delta seconds or an HTTP date)
// for the statuses where it means "come back later" (429 and 503), clamped
// to [MinRetryAfter, MaxRetryAfter]. It reports false when there is none.
func (p RetryPolicy) RetryAfter(status int, header http.Header, now time.Time) (time.Duration, bool) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Clamp before multiplying: a huge value must not overflow.
		d = time.Duration(min(secs, int64(p.MaxRetryAfter/time.Second)+1)) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, p.MinRetryAfter), p.MaxRetryAfter), true
}

// CapWait is how long a delivery waits when its endpoint or merchant is
// at its in-flight cap, having already been put off putOff times without
// an attempt (caps or an open breaker): half a second, doubling with each
// put-off up to 8 s. An endpoint that is briefly busy costs half a second;
// one that hangs (every slot held until the attempt timeout) no longer has
// every waiting delivery fetched and put off twice a second, which loaded
// Postgres enough to slow the other merchants' deliveries.
func CapWait(putOff int) time.Duration {
	return min(capWaitBase<<min(max(putOff, 0), 4), capWaitMax)
}

const (
	capWaitBase = 500 * time.Millisecond
	capWaitMax  = 8 * time.Second
)
