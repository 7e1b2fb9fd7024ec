package deliverypg

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCoalescerBatchesConcurrentCalls(t *testing.T) {
	t.Parallel()

	var calls, biggest atomic.Int32
	release := make(chan struct{})
	c := newCoalescer(1, 50, func(_ context.Context, in []int) ([]int, error) {
		if calls.Add(1) == 1 {
			<-release // hold the first batch so the others queue up
		}
		if n := int32(len(in)); n > biggest.Load() {
			biggest.Store(n)
		}
		out := make([]int, len(in))
		for i, v := range in {
			out[i] = v * 2
		}
		return out, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { c.run(ctx); close(stopped) }()

	var wg sync.WaitGroup
	for i := range 41 {
		wg.Go(func() {
			out, err := c.do(context.Background(), i)
			require.NoError(t, err)
			require.Equal(t, i*2, out)
		})
		if i == 0 {
			// The first call starts a batch of its own, held by release.
			require.Eventually(t, func() bool { return calls.Load() == 1 }, 5*time.Second, time.Millisecond)
		}
	}
	require.Eventually(t, func() bool { return len(c.in) == 40 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	require.Equal(t, int32(2), calls.Load(), "one call alone, then forty in one batch")
	require.Equal(t, int32(40), biggest.Load())

	cancel()
	<-stopped
	_, err := c.do(context.Background(), 1)
	require.ErrorIs(t, err, errStopped)
}

func TestCoalescerErrorFailsTheBatch(t *testing.T) {
	t.Parallel()

	boom := errors.New("boom")
	c := newCoalescer(1, 10, func(context.Context, []int) ([]int, error) { return nil, boom })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.run(ctx)
	_, err := c.do(context.Background(), 1)
	require.ErrorIs(t, err, boom)

	expired, cancelCall := context.WithCancel(context.Background())
	cancelCall()
	_, err = c.do(expired, 1)
	require.ErrorIs(t, err, context.Canceled)
}
