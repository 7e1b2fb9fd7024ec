// Package sinktest is a merchant's webhook endpoint for tests: an HTTP
// server on 127.0.0.1 that records every request it gets and answers as its
// handler says (200 by default), with the waits the delivery tests need.
package sinktest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldpay/herald/webhook"
)

// Handler answers the sink's n-th request (from 0). Its body is readable
// again: the sink has recorded it.
type Handler func(n int, w http.ResponseWriter, r *http.Request)

// Answer is a handler that answers every request with code.
func Answer(code int) Handler {
	return func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// Request is one request the sink got.
type Request struct {
	Header http.Header
	Body   []byte
	// Event is Body decoded; zero when Body is not an event.
	Event webhook.Event
	At    time.Time
}

// Sink is the endpoint. URL is its base address; any path below it is
// served.
type Sink struct {
	URL string

	mu      sync.Mutex
	reqs    []Request
	handler Handler
}

// New starts a sink answering with h (200 when nil), closed with the test.
func New(t testing.TB, h Handler) *Sink {
	t.Helper()
	s := &Sink{handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		_ = json.Unmarshal(body, &ev)
		s.mu.Lock()
		n := len(s.reqs)
		s.reqs = append(s.reqs, Request{Header: r.Header.Clone(), Body: body, Event: ev, At: time.Now()})
		h := s.handler
		s.mu.Unlock()
		if h == nil {
			w.WriteHeader(http.StatusOK)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(n, w, r)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// SetHandler changes how the sink answers from its next request on.
func (s *Sink) SetHandler(h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Requests returns what the sink got so far, oldest first.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// OfType returns the requests carrying events of type typ.
func (s *Sink) OfType(typ string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Event.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Wait waits up to 20 s for n requests and returns all the sink got.
func (s *Sink) Wait(t testing.TB, n int) []Request {
	t.Helper()
	WaitFor(t, 20*time.Second, fmt.Sprintf("%d webhook requests", n), func() bool { return len(s.Requests()) >= n })
	return s.Requests()
}

// WaitType waits up to 20 s for n requests carrying events of type typ and
// returns them.
func (s *Sink) WaitType(t testing.TB, typ string, n int) []Request {
	t.Helper()
	WaitFor(t, 20*time.Second, fmt.Sprintf("%d %s requests", n, typ), func() bool { return len(s.OfType(typ)) >= n })
	return s.OfType(typ)
}

// WaitFor polls cond until it holds, and fails the test naming what it
// waited for once timeout has passed.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
