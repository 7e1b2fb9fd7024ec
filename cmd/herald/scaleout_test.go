package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// workerProcess is a real `herald serve --roles worker` process sharing the
// test server's database.
type workerProcess struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
}

func startWorkerProcess(t *testing.T, dbURL string, env ...string) *workerProcess {
	t.Helper()
	w := &workerProcess{addr: freeAddr(t), stderr: &syncBuffer{}}
	w.cmd = exec.Command(os.Args[0], "serve", "--roles", "worker")
	w.cmd.Env = append(os.Environ(), envExecMain+"=1", "DATABASE_URL="+dbURL, "HERALD_ADDR="+w.addr,
		"HERALD_MIGRATE=false", "HERALD_ALLOW_PRIVATE_ENDPOINTS=127.0.0.0/8")
	w.cmd.Env = append(w.cmd.Env, env...)
	w.cmd.Stderr = w.stderr
	require.NoError(t, w.cmd.Start())
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		_ = w.cmd.Wait()
	})
	waitFor(t, 20*time.Second, "the worker process to start", func() bool {
		resp, err := http.Get("http://" + w.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return w
}

var successRE = regexp.MustCompile(`herald_delivery_attempts_total\{result="success",status_class="2xx"\} (\d+)`)

// successes reads the process's own count of successful attempts.
func (w *workerProcess) successes(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + w.addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	m := successRE.FindSubmatch(b)
	require.NotNil(t, m, "worker metrics carry the attempts counter")
	v, err := strconv.Atoi(string(m[1]))
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

	reqs := f.sink.requests()
	require.Len(t, reqs, events, "one attempt per delivery")
	ids := map[string]bool{}
	for _, r := range reqs {
		ids[r.Header.Get("webhook-id")] = true
	}
	require.Len(t, ids, events)
	mu.Lock()
	require.Empty(t, overlapped, "no delivery was attempted twice at once")
	mu.Unlock()
	sa, sb := a.successes(t), b.successes(t)
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
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGKILL))
	_ = a.cmd.Wait()

	startWorkerProcess(t, f.ts.cfg.DatabaseURL, env...)
	var d []map[string]any
	waitFor(t, 90*time.Second, "the rescued delivery", func() bool {
		d = f.deliveries(t, "status=succeeded")
		return len(d) == 1
	})
	reqs := f.sink.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].Header.Get("webhook-id"), reqs[1].Header.Get("webhook-id"), "the same event, again")
}
