package delivery

import "time"

// The delivery engine's defaults: the one place each is written. The
// worker (deliverypg.WorkerConfig), the sender (deliverynet.Config) and the
// command's flags all take theirs from here.
const (
	// DefaultAttemptTimeout bounds one attempt, from dialling to the end of
	// the kept part of the answer.
	DefaultAttemptTimeout = 15 * time.Second
	// DefaultDisableAfter disables an endpoint that has not had a single
	// success for this long.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// DefaultInflightPerEndpoint caps concurrent attempts to one endpoint in
	// one process.
	DefaultInflightPerEndpoint = 10
	// DefaultInflightPerMerchant caps concurrent attempts to all of one
	// merchant's endpoints in one process.
	DefaultInflightPerMerchant = 100
	// DefaultBreakerOpenFor is how long an open breaker refuses before it
	// lets a probe through.
	DefaultBreakerOpenFor = 30 * time.Second

	// RecordTimeout bounds the writing of an attempt's record, which goes on
	// after the attempt (and its job's context) has ended.
	RecordTimeout = 10 * time.Second
	// rescueMargin is how much longer than a job's timeout a job must look
	// stuck before it is rescued: enough for the job that timed out to
	// report so, never two runs of one job at once.
	rescueMargin = 5 * time.Second
	// defaultRescueSlack is the default's extra wait on top of the margin.
	defaultRescueSlack = 30 * time.Second
)

// JobTimeout is how long a delivery job may run: its attempt, then the
// recording of it.
func JobTimeout(attemptTimeout time.Duration) time.Duration {
	return attemptTimeout + RecordTimeout
}

// MinRescueAfter is the shortest time after which River may rescue a
// delivery job still marked running (its process died): a job that is
// really running must never look stuck, or the rescuer would start it again
// beside itself.
func MinRescueAfter(attemptTimeout time.Duration) time.Duration {
	return JobTimeout(attemptTimeout) + rescueMargin
}

// DefaultRescueAfter is when a delivery job whose process died is retried
// by default (River's own default is an hour).
func DefaultRescueAfter(attemptTimeout time.Duration) time.Duration {
	return MinRescueAfter(attemptTimeout) + defaultRescueSlack
}
