package delivery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A pending delivery says why it waits and until when: a paused endpoint
// holds it with no time, an open breaker until its next probe.
func TestExplainWait(t *testing.T) {
	t.Parallel()

	created := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	retryAt := created.Add(5 * time.Minute)
	probeEarly, probeLate := created.Add(time.Minute), created.Add(10*time.Minute)
	for _, tt := range []struct {
		name     string
		d        Delivery
		e        EndpointState
		held     bool
		reason   HoldReason
		nextWant *time.Time
	}{
		{"new, endpoint healthy: due since created", Delivery{Status: StatusPending}, EndpointState{BreakerState: BreakerClosed}, false, HoldNone, &created},
		{"retry scheduled", Delivery{Status: StatusPending, NextAttemptAt: &retryAt}, EndpointState{BreakerState: BreakerClosed}, false, HoldNone, &retryAt},
		{"paused endpoint", Delivery{Status: StatusPending, NextAttemptAt: &retryAt}, EndpointState{Paused: true, BreakerState: BreakerOpen, NextProbe: &probeLate}, true, HoldEndpointPaused, nil},
		{"held row", Delivery{Status: StatusPending, Held: true}, EndpointState{}, true, HoldEndpointPaused, nil},
		{"breaker open, probe after the retry", Delivery{Status: StatusPending, NextAttemptAt: &retryAt}, EndpointState{BreakerState: BreakerOpen, NextProbe: &probeLate}, true, HoldBreakerOpen, &probeLate},
		{"breaker open, retry after the probe", Delivery{Status: StatusPending, NextAttemptAt: &retryAt}, EndpointState{BreakerState: BreakerOpen, NextProbe: &probeEarly}, true, HoldBreakerOpen, &retryAt},
		{"breaker open, never attempted", Delivery{Status: StatusPending}, EndpointState{BreakerState: BreakerOpen, NextProbe: &probeEarly}, true, HoldBreakerOpen, &probeEarly},
		{"half open, no probe time known", Delivery{Status: StatusPending}, EndpointState{BreakerState: BreakerHalfOpen}, true, HoldBreakerOpen, &created},
		{"finished deliveries are left alone", Delivery{Status: StatusSucceeded}, EndpointState{Paused: true}, false, HoldNone, nil},
		{"skipped deliveries are left alone", Delivery{Status: StatusSkipped}, EndpointState{BreakerState: BreakerOpen, NextProbe: &probeEarly}, false, HoldNone, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.d
			d.Created = created
			d.ExplainWait(tt.e)
			require.Equal(t, tt.held, d.Held)
			require.Equal(t, tt.reason, d.HeldReason)
			require.Equal(t, tt.nextWant, d.NextAttemptAt)
		})
	}
}
