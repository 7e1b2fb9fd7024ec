package main

import (
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/syncbuf"
)

// heraldProcess is a real `herald serve` process (the test binary
// re-executed as the command), restartable on the same address so clients
// can keep using one URL across kills.
type heraldProcess struct {
	addr   string
	env    []string
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
}

func newHeraldProcess(t *testing.T, dbURL string, env ...string) *heraldProcess {
	t.Helper()
	p := &heraldProcess{addr: freeAddr(t), stderr: &syncbuf.Buffer{}}
	p.env = append(os.Environ(), envExecMain+"=1", "HERALD_ENV=dev", "DATABASE_URL="+dbURL, "HERALD_ADDR="+p.addr,
		"HERALD_MIGRATE=false", "HERALD_ALLOW_PRIVATE_ENDPOINTS=127.0.0.0/8")
	p.env = append(p.env, env...)
	t.Cleanup(p.kill)
	return p
}

func (p *heraldProcess) url() string { return "http://" + p.addr }

// start runs the process and waits until it answers /healthz.
func (p *heraldProcess) start(t *testing.T) {
	t.Helper()
	p.startAt(t, p.url()+"/healthz", "serve")
}

// startAt runs the process as `herald args…` and waits until url answers
// 200 (with an admin listener, the public one no longer serves /healthz).
func (p *heraldProcess) startAt(t *testing.T, url string, args ...string) {
	t.Helper()
	p.launch(t, args...)
	waitFor(t, 30*time.Second, url+" to answer 200", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// launch runs the process as `herald args…` and does not wait for it.
func (p *heraldProcess) launch(t *testing.T, args ...string) {
	t.Helper()
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = p.env
	p.cmd.Stderr = p.stderr
	require.NoError(t, p.cmd.Start())
}

// kill ends the process with SIGKILL: no drain, no cleanup, like a power cut.
func (p *heraldProcess) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// callAt is testServer.call for a server in another process.
func callAt(t *testing.T, baseURL, method, path, key string, body any, headers ...string) apiResponse {
	t.Helper()
	return (&testServer{Server: &Server{cfg: Config{PublicURL: baseURL}}}).call(t, method, path, key, body, headers...)
}
