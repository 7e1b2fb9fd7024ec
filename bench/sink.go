package bench

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sink is a webhook endpoint on 127.0.0.1 that answers 200 at once (or,
// under /slow/, after SlowFor) and records the first arrival of every
// webhook-id, how many requests each got, and any id received twice at the
// same time.
type Sink struct {
	URL     string
	SlowFor time.Duration

	srv *http.Server
	ln  net.Listener

	mu         sync.Mutex
	first      map[string]time.Time
	requests   map[string]int
	active     map[string]int
	overlapped int
	total      int
	changed    chan struct{}
}

// NewSink starts a sink.
func NewSink(slowFor time.Duration) (*Sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Sink{URL: "http://" + ln.Addr().String(), SlowFor: slowFor, ln: ln, changed: make(chan struct{}, 1)}
	s.Reset()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Reset forgets everything recorded.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.first, s.requests, s.active = map[string]time.Time{}, map[string]int{}, map[string]int{}
	s.overlapped, s.total = 0, 0
}

// ServeHTTP implements http.Handler.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	_, _ = io.Copy(io.Discard, r.Body)
	id := r.Header.Get("webhook-id")
	s.mu.Lock()
	if _, ok := s.first[id]; !ok {
		s.first[id] = now
	}
	s.requests[id]++
	s.active[id]++
	if s.active[id] > 1 {
		s.overlapped++
	}
	s.total++
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	if strings.HasPrefix(r.URL.Path, "/slow/") {
		select {
		case <-time.After(s.SlowFor):
		case <-r.Context().Done():
		}
	}
	s.mu.Lock()
	s.active[id]--
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Arrivals returns how many distinct ids have arrived.
func (s *Sink) Arrivals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.first)
}

// First returns when id first arrived.
func (s *Sink) First(id string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.first[id]
	return t, ok
}

// Counts returns the total requests, the ids received more than once, and
// the number of times an id arrived while another request for it was still
// being answered.
func (s *Sink) Counts() (total, duplicates, overlapped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.requests {
		if n > 1 {
			duplicates++
		}
	}
	return s.total, duplicates, s.overlapped
}

// WaitArrivals blocks until n distinct ids arrived or the deadline passes,
// and reports whether they did.
func (s *Sink) WaitArrivals(n int, deadline time.Time) bool {
	for s.Arrivals() < n {
		wait := time.Until(deadline)
		if wait <= 0 {
			return false
		}
		select {
		case <-s.changed:
		case <-time.After(min(wait, 50*time.Millisecond)):
		}
	}
	return true
}

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }
