// Package clocktest is a clock the tests move by hand: stores, services
// and pages take a Now func, and a test hands them Clock.Now to pin expiry,
// retry and rate-limit times without sleeping.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a settable time, safe for the goroutines of the code under test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time; pass it where a Now func is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
