// Package receivertest checks that a receiver.Store keeps the contract the
// receiver's Handler and Fulfiller rely on: one run per key, nothing
// recorded for a failed run, one run among concurrent callers, and a
// canceled context that runs nothing. Herald's own stores are tested with
// it; use it for a Store of your own:
//
//	func TestMyStore(t *testing.T) {
//		receivertest.RunStore(t, mystore.New(…), receivertest.Options{})
//	}
package receivertest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldpay/herald/receiver"
)

// Options tune RunStore.
type Options struct {
	// Waiters, when not nil, counts the calls of the store blocked waiting
	// for a key another call holds (for a Postgres store: its database's
	// sessions waiting on a lock). The concurrency checks then wait until
	// the other callers are seen blocked; without it they give them a
	// quarter of a second to arrive.
	Waiters func() int
	// Timeout bounds each wait of the checks. Zero means 10 seconds.
	Timeout time.Duration
}

// RunStore runs the contract's checks on store as subtests of t, one after
// another, with keys of their own ("receivertest:…").
func RunStore(t *testing.T, store receiver.Store, opts Options) {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	c := &checker{store: store, opts: opts}
	t.Run("runs once per key", c.once)
	t.Run("a failed run records nothing", c.failure)
	t.Run("concurrent calls run once", c.concurrent)
	t.Run("a canceled context runs nothing", c.canceled)
	t.Run("a canceled context stops waiting", c.canceledWhileWaiting)
}

type checker struct {
	store receiver.Store
	opts  Options
}

func (c *checker) once(t *testing.T) {
	ctx := context.Background()
	var runs atomic.Int32
	fn := func(context.Context) error { runs.Add(1); return nil }
	for i, want := range []bool{true, false} {
		ran, err := c.store.Once(ctx, "receivertest:once", fn)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if ran != want {
			t.Fatalf("call %d reported ran=%t, want %t", i+1, ran, want)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want 1", n)
	}
}

func (c *checker) failure(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	ran, err := c.store.Once(ctx, "receivertest:failure", func(context.Context) error { return boom })
	if !errors.Is(err, boom) || ran {
		t.Fatalf("failing fn: ran=%t err=%v, want false and fn's error", ran, err)
	}
	ran, err = c.store.Once(ctx, "receivertest:failure", func(context.Context) error { return nil })
	if err != nil || !ran {
		t.Fatalf("after a failure: ran=%t err=%v, want a new run", ran, err)
	}
}

// concurrent releases ten calls for one key at once with a fn that takes
// its time: the first caller is still inside it when the other nine
// arrive, so a store that looked for the key before recording it would let
// a second caller in. fn waits until that happens, or until the nine are
// seen blocked, or, where blocking cannot be seen, for a quarter second.
func (c *checker) concurrent(t *testing.T) {
	const callers = 10
	var inside atomic.Int32
	secondIn := make(chan struct{})
	slow := func(context.Context) error {
		if n := inside.Add(1); n > 1 {
			if n == 2 {
				close(secondIn)
			}
			return nil
		}
		wait := 250 * time.Millisecond
		if c.opts.Waiters != nil {
			wait = c.opts.Timeout
		}
		c.until(wait, func() bool {
			select {
			case <-secondIn:
				return true
			default:
			}
			return c.opts.Waiters != nil && c.opts.Waiters() == callers-1
		})
		return nil
	}
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	var reported atomic.Int32
	for range callers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			ran, err := c.store.Once(context.Background(), "receivertest:concurrent", slow)
			if err != nil {
				t.Errorf("Once: %v", err)
			}
			if ran {
				reported.Add(1)
			}
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	if n := inside.Load(); n != 1 {
		t.Fatalf("%d concurrent calls ran fn %d times, want 1", callers, n)
	}
	if n := reported.Load(); n != 1 {
		t.Fatalf("%d calls reported that fn ran, want 1", n)
	}
}

// canceled calls Once with a canceled context, on a new key and on a key
// done already, several times over: a store that raced the context against
// the key would pass a single try by luck.
func (c *checker) canceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	const key, doneKey = "receivertest:canceled", "receivertest:canceled-done"
	if _, err := c.store.Once(context.Background(), doneKey, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		for _, k := range []string{key, doneKey} {
			ran, err := c.store.Once(ctx, k, func(context.Context) error {
				t.Error("fn ran under a canceled context")
				return nil
			})
			if ran || !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled context, key %s: ran=%t err=%v, want false and context.Canceled", k, ran, err)
			}
		}
	}
	// Nothing was recorded: the next call runs.
	ran, err := c.store.Once(context.Background(), key, func(context.Context) error { return nil })
	if err != nil || !ran {
		t.Fatalf("after a canceled call: ran=%t err=%v, want a run", ran, err)
	}
}

// canceledWhileWaiting holds a key in one call and cancels a second call
// waiting for it: the second returns the context's error at once, without
// waiting for the first or running fn.
func (c *checker) canceledWhileWaiting(t *testing.T) {
	const key = "receivertest:waiting"
	release := make(chan struct{})
	holding := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := c.store.Once(context.Background(), key, func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
		first <- err
	}()
	defer func() {
		close(release)
		if err := <-first; err != nil {
			t.Errorf("the first call: %v", err)
		}
	}()
	select {
	case <-holding:
	case <-time.After(c.opts.Timeout):
		t.Fatal("the first call never ran fn")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	second := make(chan error, 1)
	go func() {
		_, err := c.store.Once(ctx, key, func(context.Context) error {
			return errors.New("the second call ran fn while the first held the key")
		})
		second <- err
	}()
	wait := 250 * time.Millisecond
	if c.opts.Waiters != nil {
		wait = c.opts.Timeout
	}
	if !c.until(wait, func() bool { return c.opts.Waiters != nil && c.opts.Waiters() == 1 }) && c.opts.Waiters != nil {
		t.Fatal("the second call was never seen waiting")
	}
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("canceled while waiting: %v, want context.Canceled", err)
		}
	case <-time.After(c.opts.Timeout):
		t.Fatalf("a canceled call still waits after %s", c.opts.Timeout)
	}
}

// until polls cond every 5ms for up to d and reports whether it held.
func (c *checker) until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}
