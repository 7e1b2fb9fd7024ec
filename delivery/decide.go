package delivery

import (
	"net/http"
	"time"
)

// Verdict is what happens to a delivery after an attempt.
type Verdict int

// Verdicts.
const (
	// Delivered: the endpoint answered 2xx. Done.
	Delivered Verdict = iota + 1
	// Retry: try again after Decision.RetryIn.
	Retry
	// Exhausted: the last allowed attempt failed; the delivery fails and
	// waits for a redrive.
	Exhausted
	// Gone: the endpoint answered 410; it is disabled and its pending
	// deliveries are cancelled.
	Gone
)

// Decision is the verdict on one attempt.
type Decision struct {
	Verdict Verdict
	// RetryIn is set when Verdict is Retry.
	RetryIn time.Duration
	// HonoredRetryAfter is set when RetryIn came from the endpoint's
	// Retry-After rather than the schedule.
	HonoredRetryAfter bool
}

// Decide turns an attempt's result into the delivery's next step. attempts
// counts the attempts made so far, this one included.
func (p RetryPolicy) Decide(res AttemptResult, attempts int, now time.Time, rnd func() float64) Decision {
	switch {
	case res.Succeeded():
		return Decision{Verdict: Delivered}
	case res.Err == nil && res.StatusCode == http.StatusGone:
		return Decision{Verdict: Gone}
	case attempts >= p.MaxAttempts():
		return Decision{Verdict: Exhausted}
	}
	if res.Err == nil {
		if d, ok := p.RetryAfter(res.StatusCode, res.Header, now); ok {
			return Decision{Verdict: Retry, RetryIn: d, HonoredRetryAfter: true}
		}
	}
	d, _ := p.Backoff(attempts, rnd) // attempts < MaxAttempts, so a wait exists
	return Decision{Verdict: Retry, RetryIn: d}
}
