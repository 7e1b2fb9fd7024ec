package delivery

import (
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerState is an endpoint's circuit breaker state.
type BreakerState string

// Breaker states.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half_open"
)

// BreakerSettings tune the per-endpoint breakers. Zero fields take defaults.
type BreakerSettings struct {
	// ConsecutiveFailures opens the breaker. Default 5.
	ConsecutiveFailures uint32
	// FailureRatio of at least MinRequests attempts within Window opens it
	// too. Defaults 0.5, 20 and 60 s.
	FailureRatio float64
	MinRequests  uint32
	Window       time.Duration
	// OpenFor is how long an open breaker refuses before letting one probe
	// through. Default DefaultBreakerOpenFor.
	OpenFor time.Duration
	// Now is the clock of the breakers' own bookkeeping (when one opened,
	// when it will probe). Default time.Now. gobreaker itself reads
	// time.Now: tests run the breakers in a testing/synctest bubble, whose
	// fake clock both see.
	Now func() time.Time
}

// WithDefaults returns s with zero fields set to their defaults.
func (s BreakerSettings) WithDefaults() BreakerSettings {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 5
	}
	if s.FailureRatio == 0 {
		s.FailureRatio = 0.5
	}
	if s.MinRequests == 0 {
		s.MinRequests = 20
	}
	if s.Window == 0 {
		s.Window = time.Minute
	}
	if s.OpenFor == 0 {
		s.OpenFor = DefaultBreakerOpenFor
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s
}

// BreakerChange is a state transition, kept for persisting.
type BreakerChange struct {
	EndpointID string
	State      BreakerState
	At         time.Time
	// NextProbe is when an open breaker lets a probe through.
	NextProbe time.Time
}

// Breakers holds one gobreaker TwoStep circuit breaker per endpoint, in
// this process. A breaker that refuses tells the caller how long to wait,
// so the delivery can be snoozed without spending an attempt.
type Breakers struct {
	settings BreakerSettings

	mu       sync.Mutex
	breakers map[string]*endpointBreaker
	// pending holds the latest unpersisted change per endpoint. Keeping only
	// the latest means a slow database can never make this grow without
	// bound or block a delivery.
	pending map[string]BreakerChange
}

type endpointBreaker struct {
	cb       *gobreaker.TwoStepCircuitBreaker[any]
	openedAt time.Time // guarded by Breakers.mu
}

// NewBreakers returns an empty set of breakers.
func NewBreakers(s BreakerSettings) *Breakers {
	return &Breakers{settings: s.WithDefaults(), breakers: map[string]*endpointBreaker{}, pending: map[string]BreakerChange{}}
}

// errAttemptFailed feeds a failure to gobreaker, which counts errors.
var errAttemptFailed = errors.New("attempt failed")

// Allow asks whether an attempt to endpointID may go ahead. If so, the
// caller must call done with whether the attempt found the endpoint up
// (see EndpointDown: a 500 is up, a timeout is not). If not, wait says how
// long until the breaker may let a probe through.
func (b *Breakers) Allow(endpointID string) (done func(up bool), wait time.Duration, ok bool) {
	eb := b.get(endpointID)
	report, err := eb.cb.Allow()
	if err != nil {
		return nil, b.waitFor(eb, err), false
	}
	return func(up bool) {
		if up {
			report(nil)
		} else {
			report(errAttemptFailed)
		}
	}, 0, true
}

// waitFor estimates when a refusing breaker will admit a probe.
func (b *Breakers) waitFor(eb *endpointBreaker, err error) time.Duration {
	if errors.Is(err, gobreaker.ErrTooManyRequests) {
		// Half-open with its probe in flight: check back shortly.
		return time.Second
	}
	b.mu.Lock()
	openedAt := eb.openedAt
	b.mu.Unlock()
	return max(openedAt.Add(b.settings.OpenFor).Sub(b.settings.Now()), 100*time.Millisecond)
}

func (b *Breakers) get(endpointID string) *endpointBreaker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if eb, ok := b.breakers[endpointID]; ok {
		return eb
	}
	s := b.settings
	eb := &endpointBreaker{}
	eb.cb = gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
		Name:         endpointID,
		MaxRequests:  1, // one probe when half-open
		Interval:     s.Window,
		BucketPeriod: s.Window / 6, // a rolling window rather than fixed minutes
		Timeout:      s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= s.ConsecutiveFailures ||
				(c.Requests >= s.MinRequests && float64(c.TotalFailures) >= s.FailureRatio*float64(c.Requests))
		},
		// gobreaker calls this under its own lock: only record, never block.
		OnStateChange: func(name string, _, to gobreaker.State) { b.record(name, to) },
	})
	b.breakers[endpointID] = eb
	return eb
}

func (b *Breakers) record(endpointID string, to gobreaker.State) {
	now := b.settings.Now()
	change := BreakerChange{EndpointID: endpointID, State: stateOf(to), At: now}
	b.mu.Lock()
	defer b.mu.Unlock()
	if to == gobreaker.StateOpen {
		if eb, ok := b.breakers[endpointID]; ok {
			eb.openedAt = now
		}
		change.NextProbe = now.Add(b.settings.OpenFor)
	}
	b.pending[endpointID] = change
}

func stateOf(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateOpen:
		return BreakerOpen
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// TakeChanges returns the transitions not yet persisted (the latest per
// endpoint) and forgets them.
func (b *Breakers) TakeChanges() []BreakerChange {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]BreakerChange, 0, len(b.pending))
	for _, c := range b.pending {
		out = append(out, c)
	}
	clear(b.pending)
	return out
}

// OpenCount returns how many breakers are open in this process.
func (b *Breakers) OpenCount() int {
	b.mu.Lock()
	list := make([]*endpointBreaker, 0, len(b.breakers))
	for _, eb := range b.breakers {
		list = append(list, eb)
	}
	b.mu.Unlock()
	n := 0
	for _, eb := range list {
		if eb.cb.State() == gobreaker.StateOpen {
			n++
		}
	}
	return n
}
