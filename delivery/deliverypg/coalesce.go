package deliverypg

import (
	"context"
	"errors"
	"sync"
)

// errStopped is returned to callers once the coalescer has stopped.
var errStopped = errors.New("deliverypg: stopped")

// coalescer turns concurrent single calls into batched ones: hundreds of
// delivery workers each needing one row read or written would otherwise
// cost Postgres one statement (and one round trip) each. A few loop
// goroutines take whatever calls are queued, up to max, and run fn once for
// all of them — group commit, applied to reads as well as writes. Under
// light load a batch is a single call, so nothing waits for a batch to fill.
type coalescer[In, Out any] struct {
	in    chan coalesced[In, Out]
	max   int
	loops int
	fn    func(ctx context.Context, batch []In) ([]Out, error)
	done  chan struct{} // closed once the loops have stopped
}

type coalesced[In, Out any] struct {
	in    In
	reply chan coalescedResult[Out]
}

type coalescedResult[Out any] struct {
	out Out
	err error
}

// newCoalescer returns a coalescer running fn on batches of up to max
// calls in loops goroutines. fn must return one Out per In, in order; its
// error fails the whole batch.
func newCoalescer[In, Out any](loops, max int, fn func(context.Context, []In) ([]Out, error)) *coalescer[In, Out] {
	return &coalescer[In, Out]{in: make(chan coalesced[In, Out], max*loops), max: max, loops: loops, fn: fn, done: make(chan struct{})}
}

// do submits in and waits for its result.
func (c *coalescer[In, Out]) do(ctx context.Context, in In) (Out, error) {
	var zero Out
	select {
	case <-c.done:
		return zero, errStopped
	default:
	}
	call := coalesced[In, Out]{in: in, reply: make(chan coalescedResult[Out], 1)}
	select {
	case c.in <- call:
	case <-c.done:
		return zero, errStopped
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	select {
	case r := <-call.reply:
		return r.out, r.err
	case <-c.done:
		// Stopped: the call was either answered just before (prefer that
		// answer) or will never be.
		select {
		case r := <-call.reply:
			return r.out, r.err
		default:
			return zero, errStopped
		}
	case <-ctx.Done():
		// The batch may still run; its result is dropped.
		return zero, ctx.Err()
	}
}

// run serves batches until ctx ends, then fails what is still queued.
func (c *coalescer[In, Out]) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range c.loops {
		wg.Go(func() { c.loop(ctx) })
	}
	wg.Wait()
	close(c.done)
	for {
		select {
		case call := <-c.in:
			call.reply <- coalescedResult[Out]{err: errStopped}
		default:
			return
		}
	}
}

func (c *coalescer[In, Out]) loop(ctx context.Context) {
	batch := make([]coalesced[In, Out], 0, c.max)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case call := <-c.in:
			batch = append(batch, call)
		}
	fill:
		for len(batch) < c.max {
			select {
			case call := <-c.in:
				batch = append(batch, call)
			default:
				break fill
			}
		}
		ins := make([]In, len(batch))
		for i, call := range batch {
			ins[i] = call.in
		}
		// The batch's own context: a caller giving up must not cancel the
		// others' work, and shutdown waits for the batch in flight.
		outs, err := c.fn(context.WithoutCancel(ctx), ins)
		for i, call := range batch {
			r := coalescedResult[Out]{err: err}
			if err == nil {
				r.out = outs[i]
			}
			call.reply <- r
		}
	}
}
