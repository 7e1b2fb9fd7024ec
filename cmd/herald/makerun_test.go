package main

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/syncbuf"
)

// makeRun is a `make run` started as a newcomer would, in its own process
// group like a terminal's foreground job.
type makeRun struct {
	cmd *exec.Cmd
	out *syncbuf.Buffer
	// done is closed once make has exited, with its error in err.
	done chan struct{}
	err  error
}

func startMakeRun(t *testing.T, root string, env []string) *makeRun {
	t.Helper()
	r := &makeRun{out: &syncbuf.Buffer{}, done: make(chan struct{})}
	r.cmd = exec.Command("make", "--no-print-directory", "run")
	r.cmd.Dir, r.cmd.Env, r.cmd.Stdout, r.cmd.Stderr = root, env, r.out, r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.WaitDelay = 5 * time.Second
	require.NoError(t, r.cmd.Start())
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		// A failed test must not leave Herald, the shop or a cluster behind.
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	return r
}

// waitReady waits for the banner; the first build of bin/herald may take a
// while on a cold cache.
func (r *makeRun) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(r.out.String(), "Herald is running at") {
		select {
		case <-r.done:
			t.Fatalf("make run exited (%v):\n%s", r.err, r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not start:\n%s", r.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitExit waits for make run to end after a signal.
func (r *makeRun) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run did not stop:\n%s", r.out.String())
	}
}

// readEnvFile parses the KEY='value' lines of a credentials file.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(k, "#") {
			out[k] = strings.Trim(v, "'")
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// requireFree checks nothing listens on addr any more.
func requireFree(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err, "%s is still taken", addr)
	require.NoError(t, ln.Close())
}

// `make run` from a clean environment (no DATABASE_URL: it starts its own
// cluster) on ports of its own: it prints the URLs and saves the
// credentials, a second `make run` says what is running and leaves it
// alone, a customer pays through the shop and the webhook fulfils the
// order, SIGTERM to make stops everything, and it starts again.
//
// Not parallel: it builds two binaries and starts a cluster, Herald and the
// shop twice; run before the parallel tests, it neither starves their
// timing nor is starved by them.
func TestMakeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, Herald and the shop")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	heraldAddr, shopAddr := freeAddr(t), freeAddr(t)
	runDir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DATABASE_URL" || name == "PGDATA_DIR" || strings.HasPrefix(name, "SHOP_") || strings.HasPrefix(name, "MAKE") ||
			(strings.HasPrefix(name, "HERALD_") && name != "HERALD_TEST_DATABASE_URL") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HERALD_ADDR="+heraldAddr, "SHOP_ADDR="+shopAddr, "HERALD_RUN_DIR="+runDir)
	herald, shop := "http://"+heraldAddr, "http://"+shopAddr

	start := time.Now()
	first := startMakeRun(t, root, env)
	first.waitReady(t)
	t.Logf("first make run ready after %s", time.Since(start).Round(time.Millisecond))
	credentials := filepath.Join(runDir, "credentials.env")
	fi, err := os.Stat(credentials)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the credentials are the user's alone")
	creds := readEnvFile(t, credentials)
	require.Equal(t, herald, creds["HERALD_URL"])
	require.Equal(t, shop, creds["SHOP_URL"])
	require.Equal(t, herald+"/dashboard", creds["DASHBOARD_URL"])
	require.Regexp(t, `^sk_test_\w+$`, creds["HERALD_KEY"])
	require.Regexp(t, `^sk_test_\w+$`, creds["SHOP_API_KEY"])
	require.NotEqual(t, creds["HERALD_KEY"], creds["SHOP_API_KEY"], "the API examples use a merchant of their own")
	require.NotEmpty(t, creds["DASHBOARD_PASSWORD"])
	require.Contains(t, first.out.String(), "export HERALD_KEY="+creds["HERALD_KEY"])
	require.Contains(t, first.out.String(), "password "+creds["DASHBOARD_PASSWORD"])
	pid, err := os.ReadFile(filepath.Join(runDir, "pid"))
	require.NoError(t, err)

	// A second make run says what is running and exits 0, touching nothing.
	second := exec.Command("make", "--no-print-directory", "run")
	second.Dir, second.Env = root, env
	out, err := second.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "make run is already running (pid "+strings.TrimSpace(string(pid))+")")
	require.Contains(t, string(out), "Herald     "+herald)
	require.Contains(t, string(out), "Demo shop  "+shop)
	require.Contains(t, string(out), credentials)
	resp, err := http.Get(herald + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the first run is untouched")

	// A customer buys a mug: cart, checkout, Herald's page, back to the
	// shop; the order is fulfilled.
	orderID := payThroughShop(t, shop)
	waitFor(t, 30*time.Second, "the order to be fulfilled", func() bool {
		resp, err := http.Get(shop + "/orders/" + orderID)
		require.NoError(t, err)
		defer resp.Body.Close()
		body := readAll(t, resp)
		return regexp.MustCompile(`id="order-status"[^>]*>\s*fulfilled`).MatchString(body)
	})
	// The API merchant sees none of it.
	req, err := http.NewRequest(http.MethodGet, herald+"/v1/checkout/sessions", nil)
	require.NoError(t, err)
	req.SetBasicAuth(creds["HERALD_KEY"], "")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, readAll(t, resp), `"data":[]`)

	t.Logf("order fulfilled after %s", time.Since(start).Round(time.Millisecond))

	// SIGTERM to make alone (not its group) stops everything it started.
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	first.waitExit(t)
	requireFree(t, heraldAddr)
	requireFree(t, shopAddr)
	for _, name := range []string{"pid", "credentials.env"} {
		_, err := os.Stat(filepath.Join(runDir, name))
		require.ErrorIs(t, err, os.ErrNotExist, "%s is removed when the run stops", name)
	}

	t.Logf("stopped after %s", time.Since(start).Round(time.Millisecond))

	// And it starts again; Ctrl-C (SIGINT to the group) stops it.
	third := startMakeRun(t, root, env)
	third.waitReady(t)
	t.Logf("started again after %s", time.Since(start).Round(time.Millisecond))
	resp, err = http.Get(herald + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, third.out.String(), "rror")
	require.NoError(t, syscall.Kill(-third.cmd.Process.Pid, syscall.SIGINT))
	third.waitExit(t)
	requireFree(t, heraldAddr)
	requireFree(t, shopAddr)
}

// `make run` checks its ports before starting anything and names the
// variable that moves each.
func TestMakeRunPortTaken(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	runDir := t.TempDir()
	cmd := exec.Command("scripts/run")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "HERALD_ADDR="+ln.Addr().String(), "SHOP_ADDR="+freeAddr(t), "HERALD_RUN_DIR="+runDir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	require.Equal(t, 1, exit.ExitCode())
	port := ln.Addr().(*net.TCPAddr).Port
	require.Regexp(t, `^run: `+regexp.QuoteMeta(ln.Addr().String())+` \(HERALD_ADDR\) is already in use( by .*)?; set HERALD_ADDR to a free address, e\.g\. HERALD_ADDR=127\.0\.0\.1:\d+ make run\n$`, string(out))
	require.NotContains(t, string(out), "HERALD_ADDR=127.0.0.1:"+strconv.Itoa(port)+" make run", "the suggestion is another port")
	_, err = os.Stat(filepath.Join(runDir, "pid"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing started")
}

// payThroughShop buys a mug with the test card over plain HTTP and returns
// the order id.
func payThroughShop(t *testing.T, shop string) string {
	t.Helper()
	c := formClient(t)
	post := func(u string, form url.Values) *http.Response {
		t.Helper()
		resp, err := c.PostForm(u, form)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "POST %s", u)
		return resp
	}
	post(shop+"/cart/items", url.Values{"product_id": {"mug"}})
	payURL := post(shop+"/checkout", nil).Header.Get("Location")
	resp, err := c.Get(payURL)
	require.NoError(t, err)
	page := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, token, "the payment form carries a CSRF token")
	success := post(payURL, url.Values{"csrf_token": {token[1]}, "email": {"jo@example.com"}, "card_number": {"4242 4242 4242 4242"},
		"card_expiry": {"12/34"}, "card_cvc": {"123"}, "cardholder_name": {"Jo Example"}}).Header.Get("Location")
	require.True(t, strings.HasPrefix(success, shop+"/success?session_id=cs_"), success)
	resp, err = c.Get(success)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	order := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(order, "/orders/ord_"), order)
	return strings.TrimPrefix(order, "/orders/")
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	_, err := bufio.NewReader(resp.Body).WriteTo(&b)
	require.NoError(t, err)
	return b.String()
}
