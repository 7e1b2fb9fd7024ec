package delivery

import (
	"fmt"
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

// RetryDecision is the retry policy's verdict on one attempt.
type RetryDecision struct {
	Verdict Verdict
	// RetryIn is set when Verdict is Retry.
	RetryIn time.Duration
	// HonoredRetryAfter is set when RetryIn came from the endpoint's
	// Retry-After rather than the schedule.
	HonoredRetryAfter bool
}

// Decide turns an attempt's result into the delivery's next step. attempts
// counts the attempts made so far, this one included.
func (p RetryPolicy) Decide(res AttemptResult, attempts int, now time.Time, rnd func() float64) RetryDecision {
	switch {
	case res.Succeeded():
		return RetryDecision{Verdict: Delivered}
	case res.Err == nil && res.StatusCode == http.StatusGone:
		return RetryDecision{Verdict: Gone}
	case attempts >= p.MaxAttempts():
		return RetryDecision{Verdict: Exhausted}
	}
	if res.Err == nil {
		if d, ok := p.RetryAfter(res.StatusCode, res.Header, now); ok {
			return RetryDecision{Verdict: Retry, RetryIn: d, HonoredRetryAfter: true}
		}
	}
	d, _ := p.Backoff(attempts, rnd) // attempts < MaxAttempts, so a wait exists
	return RetryDecision{Verdict: Retry, RetryIn: d}
}

// Action is what a delivery job tells River once it has run.
type Action int

// Actions.
const (
	// Complete: the job is done (delivered, or nothing left to do).
	Complete Action = iota + 1
	// Snooze: run the job again after Step.After, without spending one of
	// River's attempts (Herald counts delivery attempts itself).
	Snooze
	// Cancel: the job stops for good, for Step.Reason.
	Cancel
)

// Step is a delivery job's next step.
type Step struct {
	Action Action
	// After is how long a snoozed job waits.
	After time.Duration
	// Reason says why a job is cancelled, for River's record of it.
	Reason string
}

// Steps that need no parameters.
var (
	// StepDone completes a job: delivered, or nothing left to do.
	StepDone = Step{Action: Complete}
	// StepEndpointDisabled cancels the job of a disabled endpoint.
	StepEndpointDisabled = Step{Action: Cancel, Reason: ErrEndpointDisabled.Error()}
	// StepHeld cancels the job of a delivery held by a paused endpoint;
	// resuming the endpoint enqueues a new one.
	StepHeld = Step{Action: Cancel, Reason: "endpoint paused: the delivery is held until it is resumed"}
)

// SnoozeFor snoozes a job for d.
func SnoozeFor(d time.Duration) Step { return Step{Action: Snooze, After: d} }

// Policy is the rules applied after every attempt: retries, and when a
// failing endpoint is disabled.
type Policy struct {
	Retry RetryPolicy
	// DisableAfter disables an endpoint that has failed without a single
	// success for this long. Default DefaultDisableAfter.
	DisableAfter time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	p.Retry = p.Retry.WithDefaults()
	if p.DisableAfter == 0 {
		p.DisableAfter = DefaultDisableAfter
	}
	return p
}

// AttemptContext is what the judgement of an attempt needs to know about
// the delivery and its endpoint, as they were loaded before it.
type AttemptContext struct {
	// Attempts counts the delivery's attempts before this one.
	Attempts int
	// RedriveBase is Attempts at the delivery's last redrive: a redrive
	// grants a fresh set of attempts.
	RedriveBase int
	// Redriven is set for the first attempt a redrive asked for.
	Redriven bool
	// FailingSince is when the endpoint's current outage began, nil while
	// it last succeeded.
	FailingSince *time.Time
	// Start is when this attempt started.
	Start time.Time
}

// Judgement is everything that follows from one attempt: what to record,
// whether the endpoint is disabled, and the job's next step.
type Judgement struct {
	RetryDecision
	// Attempts counts the delivery's attempts, this one included.
	Attempts int
	// Trigger says why the attempt was made, for the attempt log.
	Trigger string
	// Disable is set when the attempt disables the endpoint: it answered
	// 410, or it has failed for DisableAfter without a success.
	Disable DisableCause
	// Step is what the job does next.
	Step Step
}

// Judge decides what follows an attempt. It is the whole of the delivery
// policy applied after an attempt; the worker only records and acts on it.
func (p Policy) Judge(res AttemptResult, c AttemptContext, rnd func() float64) Judgement {
	j := Judgement{Attempts: c.Attempts + 1, Trigger: TriggerRetry}
	j.RetryDecision = p.Retry.Decide(res, j.Attempts-c.RedriveBase, c.Start, rnd)
	switch {
	case c.Redriven:
		j.Trigger = TriggerRedrive
	case c.Attempts == 0:
		j.Trigger = TriggerInitial
	}
	switch {
	case j.Verdict == Gone:
		j.Disable = CauseGone
	case j.Verdict != Delivered && c.FailingSince != nil && c.Start.Sub(*c.FailingSince) >= p.DisableAfter:
		j.Disable = CauseFailing
	}
	switch {
	case j.Verdict == Delivered:
		j.Step = StepDone
	case j.Verdict == Gone:
		j.Step = Step{Action: Cancel, Reason: "the endpoint answered 410 Gone and was disabled"}
	case j.Disable != "":
		j.Step = StepEndpointDisabled
	case j.Verdict == Retry:
		j.Step = SnoozeFor(j.RetryIn)
	default:
		j.Step = Step{Action: Cancel, Reason: fmt.Sprintf("failed after %d attempts", j.Attempts-c.RedriveBase)}
	}
	return j
}
