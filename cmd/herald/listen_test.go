package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/syncbuf"
	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/webhook"
)

// cutProxy forwards TCP connections to a server until it is cut: then it
// drops every open connection and refuses new ones until restored.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		for _, pair := range [][2]net.Conn{{c, up}, {up, c}} {
			p.wg.Go(func() {
				_, _ = io.Copy(pair[0], pair[1])
				_ = pair[0].Close()
				_ = pair[1].Close()
			})
		}
	}
}

// cut drops every connection and refuses new ones.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// merchantSite is a merchant's local webhook receiver, built with the
// receiver package once the secret is known. It counts the events it
// accepted (2xx) by webhook-id.
type merchantSite struct {
	srv      *httptest.Server
	handler  atomic.Pointer[http.Handler]
	mu       sync.Mutex
	accepted map[string]int
	refused  int
}

func newMerchantSite(t *testing.T) *merchantSite {
	t.Helper()
	s := &merchantSite{accepted: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := s.handler.Load()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		rec := httptest.NewRecorder()
		(*h).ServeHTTP(rec, r)
		s.mu.Lock()
		if rec.Code/100 == 2 {
			s.accepted[r.Header.Get("webhook-id")]++
		} else {
			s.refused++
		}
		s.mu.Unlock()
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// verifyWith builds the receiver with secret.
func (s *merchantSite) verifyWith(t *testing.T, secret string) {
	t.Helper()
	h, err := receiver.NewHandler(receiver.NewMemoryStore(), secret)
	require.NoError(t, err)
	for _, typ := range webhook.EventTypes {
		h.On(typ, func(context.Context, webhook.Event) error { return nil })
	}
	var hh http.Handler = h
	s.handler.Store(&hh)
}

func (s *merchantSite) counts() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.accepted))
	for k, v := range s.accepted {
		out[k] = v
	}
	return out, s.refused
}

// runCommand runs a herald command in-process and returns its exit status
// and output.
func runCommand(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, &out, &errs)
	return code, out.String(), errs.String()
}

// The three-minute path, end to end: `herald listen` forwards the events
// that `herald trigger` makes happen to a local receiver, which verifies
// them with the secret listen printed. The stream is then cut while more
// events happen; listen reconnects with Last-Event-ID and every event
// arrives exactly once.
func TestListenAndTrigger(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.StreamPoll = 20 * time.Millisecond; c.StreamHeartbeat = 200 * time.Millisecond })
	_, key := ts.newMerchant(t, "Acme")
	proxy := newCutProxy(t, strings.TrimPrefix(ts.URL(), "http://"))
	site := newMerchantSite(t)

	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"listen", "--api-key", key, "--api-url", proxy.url(), "--forward-to", site.srv.URL + "/webhooks"},
			func(string) string { return "" }, out, errs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exited:
			require.Equal(t, 0, code, "^C ends listen cleanly")
		case <-time.After(10 * time.Second):
			t.Error("listen did not stop")
		}
	})
	secretRE := regexp.MustCompile(`Ready! Your webhook signing secret is (whsec_[A-Za-z0-9+/=]+)`)
	waitFor(t, 20*time.Second, "listen to be ready", func() bool { return secretRE.MatchString(out.String()) })
	site.verifyWith(t, secretRE.FindStringSubmatch(out.String())[1])

	code, stdout, stderr := runCommand(t, "trigger", webhook.TypeCheckoutSessionCompleted, "--api-key", key, "--api-url", ts.URL())
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "Trigger succeeded!")
	events := func() []string {
		r := ts.call(t, http.MethodGet, "/v1/events?limit=100", key, nil)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		var ids []string
		for _, ev := range r.Body["data"].([]any) {
			ids = append(ids, ev.(map[string]any)["id"].(string))
		}
		return ids
	}
	allOnce := func(ids []string) bool {
		got, _ := site.counts()
		for _, id := range ids {
			if got[id] != 1 {
				return false
			}
		}
		return len(got) == len(ids)
	}
	first := events()
	require.Len(t, first, 2, "charge.succeeded and checkout.session.completed")
	waitFor(t, 20*time.Second, "both events at the receiver", func() bool { return allOnce(first) })
	completed := first[0]
	require.Regexp(t, `\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  --> checkout\.session\.completed \[`+completed+`\]`, out.String())
	// The answer's line is printed once the POST returns, just after the
	// receiver counted the event.
	answered := "<-- [200] POST " + site.srv.URL + "/webhooks [" + completed + "]"
	waitFor(t, 5*time.Second, "listen to print the answer", func() bool { return strings.Contains(out.String(), answered) })

	// Cut the stream; events happen while listen is away.
	proxy.cut()
	waitFor(t, 20*time.Second, "listen to notice", func() bool { return strings.Contains(errs.String(), "stream lost") })
	for _, typ := range []string{webhook.TypeCheckoutSessionCompleted, webhook.TypeChargeFailed} {
		code, _, stderr := runCommand(t, "trigger", typ, "--api-key", key, "--api-url", ts.URL())
		require.Equal(t, 0, code, stderr)
	}
	all := events()
	require.Len(t, all, 5)
	proxy.restore()
	waitFor(t, 30*time.Second, "every event exactly once", func() bool { return allOnce(all) })
	require.Contains(t, errs.String(), "reconnected; resuming after ")
	_, refused := site.counts()
	require.Zero(t, refused, "every forwarded event verified with the printed secret")
	// One more event, after the resumed ones: once it is in, nothing was
	// sent twice in between.
	code, _, stderr = runCommand(t, "trigger", webhook.TypeChargeFailed, "--api-key", key, "--api-url", ts.URL())
	require.Equal(t, 0, code, stderr)
	all = events()
	require.Len(t, all, 6)
	waitFor(t, 20*time.Second, "the last event, and still every event exactly once", func() bool { return allOnce(all) })
}

// trigger makes each supported event really happen, and refuses what it
// cannot do with a usage error.
func TestTrigger(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	for _, typ := range []string{webhook.TypeCheckoutSessionExpired, webhook.TypeChargeFailed} {
		code, stdout, stderr := runCommand(t, "trigger", typ, "--api-key", key, "--api-url", ts.URL())
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "Trigger succeeded!")
		r := ts.call(t, http.MethodGet, "/v1/events?type="+typ, key, nil)
		require.Len(t, r.Body["data"], 1, "a real %s event", typ)
	}
	r := ts.call(t, http.MethodGet, "/v1/checkout/sessions", key, nil)
	sessions := r.Body["data"].([]any)
	require.Len(t, sessions, 2)
	// Both may be created in one second, whose order is the ids'.
	statuses := []any{sessions[0].(map[string]any)["status"], sessions[1].(map[string]any)["status"]}
	require.ElementsMatch(t, []any{"open", "expired"}, statuses, "a declined payment leaves its session open")

	code, _, stderr := runCommand(t, "trigger", "order.shipped", "--api-key", key, "--api-url", ts.URL())
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "where EVENT is one of checkout.session.completed")
	code, _, stderr = runCommand(t, "trigger", webhook.TypeChargeFailed, "--api-key", "sk_test_nope", "--api-url", ts.URL())
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "Herald answered 401")
	code, _, stderr = runCommand(t, "listen", "--api-key", key, "--api-url", ts.URL())
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--forward-to")
	code, _, stderr = runCommand(t, "listen", "--api-key", "sk_test_nope", "--api-url", ts.URL(), "--forward-to", "http://127.0.0.1:1/")
	require.Equal(t, 1, code, "a refused key is not retried")
	require.Contains(t, stderr, "Herald answered 401")
}
