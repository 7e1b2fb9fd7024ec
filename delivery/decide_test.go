package delivery

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Judge is the whole policy after an attempt: the verdict, the trigger in
// the attempt log, whether the endpoint is disabled, and what the job
// tells River.
func TestJudge(t *testing.T) {
	t.Parallel()

	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := Policy{}.WithDefaults()
	ok, fail := AttemptResult{StatusCode: 200}, AttemptResult{StatusCode: 500}
	gone := AttemptResult{StatusCode: 410}
	refused := AttemptResult{Err: &AttemptError{Class: ClassConnectionRefused, Err: errors.New("refused")}}
	since := func(d time.Duration) *time.Time { at := start.Add(-d); return &at }
	for _, tt := range []struct {
		name string
		res  AttemptResult
		c    AttemptContext
		want Judgement
	}{
		{"first attempt delivered", ok, AttemptContext{},
			Judgement{RetryDecision: RetryDecision{Verdict: Delivered}, Attempts: 1, Trigger: TriggerInitial, Step: StepDone}},
		{"retry delivered", ok, AttemptContext{Attempts: 3, FailingSince: since(time.Hour)},
			Judgement{RetryDecision: RetryDecision{Verdict: Delivered}, Attempts: 4, Trigger: TriggerRetry, Step: StepDone}},
		{"a success never disables, however long the outage", ok, AttemptContext{Attempts: 3, FailingSince: since(30 * 24 * time.Hour)},
			Judgement{RetryDecision: RetryDecision{Verdict: Delivered}, Attempts: 4, Trigger: TriggerRetry, Step: StepDone}},
		{"first failure snoozes for the first wait", fail, AttemptContext{},
			Judgement{RetryDecision: RetryDecision{Verdict: Retry, RetryIn: 5 * time.Second}, Attempts: 1, Trigger: TriggerInitial,
				Step: Step{Action: Snooze, After: 5 * time.Second}}},
		{"redrive's first attempt", fail, AttemptContext{Attempts: 10, RedriveBase: 10, Redriven: true},
			Judgement{RetryDecision: RetryDecision{Verdict: Retry, RetryIn: 5 * time.Second}, Attempts: 11, Trigger: TriggerRedrive,
				Step: Step{Action: Snooze, After: 5 * time.Second}}},
		{"a redrive of a never-attempted (skipped) delivery is a redrive", ok, AttemptContext{Redriven: true},
			Judgement{RetryDecision: RetryDecision{Verdict: Delivered}, Attempts: 1, Trigger: TriggerRedrive, Step: StepDone}},
		{"exhausted", fail, AttemptContext{Attempts: 9},
			Judgement{RetryDecision: RetryDecision{Verdict: Exhausted}, Attempts: 10, Trigger: TriggerRetry,
				Step: Step{Action: Cancel, Reason: "failed after 10 attempts"}}},
		{"exhausted after a redrive counts from it", fail, AttemptContext{Attempts: 19, RedriveBase: 10},
			Judgement{RetryDecision: RetryDecision{Verdict: Exhausted}, Attempts: 20, Trigger: TriggerRetry,
				Step: Step{Action: Cancel, Reason: "failed after 10 attempts"}}},
		{"410 disables", gone, AttemptContext{Attempts: 2},
			Judgement{RetryDecision: RetryDecision{Verdict: Gone}, Attempts: 3, Trigger: TriggerRetry, Disable: CauseGone,
				Step: Step{Action: Cancel, Reason: "the endpoint answered 410 Gone and was disabled"}}},
		{"failing just under the limit keeps going", refused, AttemptContext{Attempts: 1, FailingSince: since(p.DisableAfter - time.Second)},
			Judgement{RetryDecision: RetryDecision{Verdict: Retry, RetryIn: 5 * time.Minute}, Attempts: 2, Trigger: TriggerRetry,
				Step: Step{Action: Snooze, After: 5 * time.Minute}}},
		{"failing exactly the limit disables", refused, AttemptContext{Attempts: 1, FailingSince: since(p.DisableAfter)},
			Judgement{RetryDecision: RetryDecision{Verdict: Retry, RetryIn: 5 * time.Minute}, Attempts: 2, Trigger: TriggerRetry,
				Disable: CauseFailing, Step: StepEndpointDisabled}},
		{"the last attempt of a long outage fails the delivery and disables", fail, AttemptContext{Attempts: 9, FailingSince: since(6 * 24 * time.Hour)},
			Judgement{RetryDecision: RetryDecision{Verdict: Exhausted}, Attempts: 10, Trigger: TriggerRetry,
				Disable: CauseFailing, Step: StepEndpointDisabled}},
		{"a first failure starts no outage clock", fail, AttemptContext{},
			Judgement{RetryDecision: RetryDecision{Verdict: Retry, RetryIn: 5 * time.Second}, Attempts: 1, Trigger: TriggerInitial,
				Step: Step{Action: Snooze, After: 5 * time.Second}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.c
			c.Start = start
			require.Equal(t, tt.want, p.Judge(tt.res, c, fixed(0.5)))
		})
	}
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	p := Policy{}.WithDefaults()
	require.Equal(t, DefaultDisableAfter, p.DisableAfter)
	require.Equal(t, DefaultSchedule, p.Retry.Schedule)
	require.Equal(t, 25*time.Second, JobTimeout(15*time.Second))
	require.Equal(t, 30*time.Second, MinRescueAfter(15*time.Second))
	require.Equal(t, 60*time.Second, DefaultRescueAfter(15*time.Second))
}
