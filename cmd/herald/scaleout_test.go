package main

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startWorkerProcess starts `herald serve --roles worker` on dbURL.
func startWorkerProcess(t *testing.T, dbURL string, env ...string) *heraldProcess {
	t.Helper()
	p := newHeraldProcess(t, dbURL, append([]string{"HERALD_ROLES=worker"}, env...)...)
	p.start(t)
	return p
}

var successRE = regexp.MustCompile(`herald_delivery_attempts_total\{result="success",status_class="2xx"\} (\d+)`)

// successes reads a process's own count of successful attempts.
func successes(t *testing.T, p *heraldProcess) int {
	t.Helper()
	_, metrics := httpGet(t, p.url()+"/metrics")
	m := successRE.FindStringSubmatch(metrics)
	require.NotNil(t, m, "worker metrics carry the attempts counter")
	v, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return v
}

// Two worker processes share the queue: every delivery is attempted once,
// never by both at the same time, and both do part of the work.
func TestTwoWorkerProcesses(t *testing.T) {
	t.Parallel()

	var (
		mu         sync.Mutex
		active     = map[string]int{}
		overlapped []string
	)
	f := newDeliveryFixture(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		msgID := r.Header.Get("webhook-id")
		mu.Lock()
		active[msgID]++
		if active[msgID] > 1 {
			overlapped = append(overlapped, msgID)
		}
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		active[msgID]--
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}, func(c *Config) { c.Roles = []string{roleAPI} })
	a := startWorkerProcess(t, f.ts.cfg.DatabaseURL)
	b := startWorkerProcess(t, f.ts.cfg.DatabaseURL)

	const events = 60
	for range events {
		f.pay(t)
	}
	f.waitDeliveries(t, "succeeded", events)

	reqs := f.sink.Requests()
	require.Len(t, reqs, events, "one attempt per delivery")
	ids := map[string]bool{}
	for _, r := range reqs {
		ids[r.Header.Get("webhook-id")] = true
	}
	require.Len(t, ids, events)
	mu.Lock()
	require.Empty(t, overlapped, "no delivery was attempted twice at once")
	mu.Unlock()
	sa, sb := successes(t, a), successes(t, b)
	require.Equal(t, events, sa+sb)
	require.Positive(t, sa, "worker A delivered some")
	require.Positive(t, sb, "worker B delivered some")
	t.Logf("worker A delivered %d, worker B %d", sa, sb)
}

// A worker killed with SIGKILL in the middle of an attempt loses nothing:
// River's rescuer gives the job to another worker, which delivers it.
func TestWorkerKilledMidAttempt(t *testing.T) {
	t.Parallel()

	arrived := make(chan struct{}, 1)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	f := newDeliveryFixture(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			arrived <- struct{}{}
			select { // hang until the worker dies
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}, func(c *Config) { c.Roles = []string{roleAPI} })
	env := []string{"HERALD_DELIVERY_TIMEOUT=1s", "HERALD_RESCUE_AFTER=16s"}
	a := startWorkerProcess(t, f.ts.cfg.DatabaseURL, env...)

	f.pay(t)
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the first attempt never arrived")
	}
	a.kill()

	startWorkerProcess(t, f.ts.cfg.DatabaseURL, env...)
	var d []map[string]any
	waitFor(t, 90*time.Second, "the rescued delivery", func() bool {
		d = f.deliveries(t, "status=succeeded")
		return len(d) == 1
	})
	reqs := f.sink.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Header.Get("webhook-id"), reqs[1].Header.Get("webhook-id"), "the same event, again")
}
