package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/webhook"
)

// payer keeps customers paying through a Herald's API and hosted page, and
// remembers which payments it saw succeed and how the others ended.
type payer struct {
	baseURL func() string
	key     string

	mu        sync.Mutex
	confirmed []string // sessions whose payment answered with the success redirect
	// cutOff counts requests that got no answer at all: refused or reset,
	// as while Herald is killed and restarting. After one, the customer
	// waits until Herald is up again rather than hammering a closed port.
	cutOff int
	// failed counts requests Herald answered with anything but what a
	// working checkout answers: an error, a missing form, a payment that
	// did not end in the success redirect.
	failed int
}

// payOnce creates a session and pays it through the hosted form.
func (p *payer) payOnce(ctx context.Context) {
	base := p.baseURL()
	raw := `{"line_items":[{"name":"Book","unit_amount":1200,"quantity":1}],"currency":"usd",` +
		`"success_url":"https://shop.test/ok","cancel_url":"https://shop.test/cart"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/checkout/sessions", strings.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.cut(ctx)
		return
	}
	var created struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil {
		p.fail()
		return
	}
	sessionID := created.ID
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c.Jar, _ = newJar()
	page, err := c.Get(base + "/pay/" + sessionID)
	if err != nil {
		p.cut(ctx)
		return
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	m := csrfRE.FindStringSubmatch(string(html))
	if m == nil {
		p.fail()
		return
	}
	form := url.Values{"csrf_token": {m[1]}, "email": {"jo@example.com"}, "card_number": {checkout.TestCardVisa},
		"card_expiry": {"12/40"}, "card_cvc": {"123"}, "cardholder_name": {"Jo"}}
	paid, err := c.PostForm(base+"/pay/"+sessionID, form)
	if err != nil {
		p.cut(ctx)
		return
	}
	paid.Body.Close()
	if paid.StatusCode != http.StatusSeeOther || !strings.HasPrefix(paid.Header.Get("Location"), "https://shop.test/ok") {
		p.fail()
		return
	}
	p.mu.Lock()
	p.confirmed = append(p.confirmed, sessionID)
	p.mu.Unlock()
}

func (p *payer) fail() {
	p.mu.Lock()
	p.failed++
	p.mu.Unlock()
}

// cut counts a request cut off and waits until Herald answers /healthz
// again, or ctx ends.
func (p *payer) cut(ctx context.Context) {
	p.mu.Lock()
	p.cutOff++
	p.mu.Unlock()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.baseURL()+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// counts returns how many payments were confirmed, and how many requests
// were cut off and failed, so far.
func (p *payer) counts() (confirmed, cutOff, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.confirmed), p.cutOff, p.failed
}

// waitConfirmed waits until at least n payments were confirmed.
func (p *payer) waitConfirmed(t *testing.T, n int, timeout time.Duration, what string) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		confirmed, _, _ := p.counts()
		return confirmed >= n
	})
}

// run pays with n customers until ctx ends.
func (p *payer) run(ctx context.Context, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				p.payOnce(ctx)
			}
		})
	}
	return &wg
}

// checkNothingLost asserts the invariants after a run: every complete
// session was completed once, has exactly one completed event, and that
// event reached the sink at least once; every payment a customer saw
// succeed is complete.
func checkNothingLost(t *testing.T, pool *pgxpool.Pool, s *sinktest.Sink, confirmed []string) {
	t.Helper()
	ctx := context.Background()
	var complete, doubleCharged, eventless, doubleEvents int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM checkout_sessions WHERE status = 'complete'),
		(SELECT count(*) FROM (SELECT session_id FROM charges WHERE status = 'succeeded' GROUP BY 1 HAVING count(*) > 1) x),
		(SELECT count(*) FROM checkout_sessions s WHERE s.status = 'complete' AND NOT EXISTS (
			SELECT 1 FROM events e WHERE e.type = 'checkout.session.completed' AND e.body->'data'->'object'->>'id' = s.id)),
		(SELECT count(*) FROM (SELECT e.body->'data'->'object'->>'id' FROM events e
			WHERE e.type = 'checkout.session.completed' GROUP BY 1 HAVING count(*) > 1) y)`).
		Scan(&complete, &doubleCharged, &eventless, &doubleEvents))
	require.Positive(t, complete)
	require.Zero(t, doubleCharged, "no session charged twice")
	require.Zero(t, eventless, "no complete session without its event")
	require.Zero(t, doubleEvents, "no session completed twice")
	for _, sessionID := range confirmed {
		var status string
		require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM checkout_sessions WHERE id = $1`, sessionID).Scan(&status))
		require.Equal(t, "complete", status, "a payment the customer saw succeed is complete")
	}

	eventIDs := queryStrings(t, pool, `SELECT id FROM events WHERE type = 'checkout.session.completed'`)
	require.Len(t, eventIDs, complete)

	// Money: charges cut off between the acquirer's answer and its record
	// are reconciled (the tests set a short HERALD_RECONCILE_AFTER), and then
	// every approval at the acquirer is a succeeded charge and the reverse.
	waitFor(t, 2*time.Minute, "no charge left processing", func() bool {
		var processing int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE status = 'processing'`).Scan(&processing))
		return processing == 0
	})
	var unrecorded, unapproved int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM acquirer_ledger l WHERE l.status = 'approved' AND NOT EXISTS (
			SELECT 1 FROM charges c WHERE c.id = l.charge_id AND c.status = 'succeeded')),
		(SELECT count(*) FROM charges c WHERE c.status = 'succeeded' AND NOT EXISTS (
			SELECT 1 FROM acquirer_ledger l WHERE l.charge_id = c.id AND l.status = 'approved'))`).Scan(&unrecorded, &unapproved))
	require.Zero(t, unrecorded, "no money taken without a succeeded charge")
	require.Zero(t, unapproved, "no succeeded charge the acquirer did not approve")
	var paidLate, neverSent int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM checkout_sessions s JOIN charges c ON c.id = s.charge_id
			WHERE s.completed_at > c.created_at + interval '1 second'),
		(SELECT count(*) FROM charges WHERE failure_code = 'processing_error')`).Scan(&paidLate, &neverSent))
	t.Logf("reconciled: %d sessions completed after their attempt died, %d charges that never reached the acquirer", paidLate, neverSent)

	waitFor(t, 3*time.Minute, "every completed event at the sink", func() bool {
		seen := map[string]bool{}
		for _, r := range s.Requests() {
			seen[r.Header.Get("webhook-id")] = true
		}
		for _, id := range eventIDs {
			if !seen[id] {
				return false
			}
		}
		return true
	})
}

// SIGKILL Herald ten times while customers pay and webhooks go out: after
// the last restart, nothing is lost and nothing happened twice.
func TestKill9DuringPaymentsLosesNothing(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL, pool, key := merchantDB(t)
	s := newSink(t, nil)

	proc := newHeraldProcess(t, dbURL, "HERALD_DELIVERY_TIMEOUT=1s", "HERALD_RESCUE_AFTER=16s",
		"HERALD_RETRY_SCHEDULE=1s,1s,2s,2s,5s,5s", "HERALD_RECONCILE_AFTER=2s")
	proc.start(t)
	r := callAt(t, proc.url(), http.MethodPost, "/v1/webhook_endpoints", key,
		map[string]any{"url": s.URL + "/hooks", "enabled_events": []string{webhook.TypeCheckoutSessionCompleted}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)

	const payers, kills = 4, 10
	p := &payer{baseURL: proc.url, key: key}
	loadCtx, stop := context.WithCancel(ctx)
	wg := p.run(loadCtx, payers)
	// Each kill comes once the (re)started Herald has confirmed a few more
	// payments, a random number of them (3 to 8), so the kills land at
	// different points of the payments in flight, and a Herald that stops
	// confirming payments fails the test here.
	for i := range kills {
		confirmed, _, _ := p.counts()
		p.waitConfirmed(t, confirmed+3+rand.IntN(6), 30*time.Second, fmt.Sprintf("payments confirmed before kill %d", i+1))
		proc.kill()
		t.Logf("kill %d", i+1)
		proc.start(t)
	}
	confirmed, _, _ := p.counts()
	p.waitConfirmed(t, confirmed+5, 30*time.Second, "payments confirmed after the last restart")
	stop()
	wg.Wait()
	confirmed, cutOff, failed := p.counts()
	t.Logf("%d payments confirmed to customers, %d requests cut off by the kills, %d failed", confirmed, cutOff, failed)
	// A kill cuts off at most the request each customer has in flight, and
	// perhaps one more sent as the process died; an answered request never
	// fails: a session is paid by the process that answers for it.
	require.LessOrEqual(t, cutOff, 2*payers*kills, "requests cut off")
	require.LessOrEqual(t, failed, confirmed/20, "payments Herald answered but did not take")
	checkNothingLost(t, pool, s, p.confirmed)
}

// Postgres itself crashes and comes back mid-load: Herald reconnects on its
// own, and nothing is lost.
func TestPostgresRestartMidLoad(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	cluster := pgtest.NewCluster(t)
	ts := startServer(t, func(c *Config) {
		c.DatabaseURL = cluster.URL()
		c.Migrate = true
		c.DeliveryTimeout = time.Second
		c.RescueAfter = 16 * time.Second
		c.RetrySchedule = []time.Duration{time.Second, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}
		c.ReconcileAfter = 2 * time.Second
	})
	s := newSink(t, nil)
	_, key := ts.newMerchant(t, "Acme")
	r := ts.call(t, http.MethodPost, "/v1/webhook_endpoints", key,
		map[string]any{"url": s.URL + "/hooks", "enabled_events": []string{webhook.TypeCheckoutSessionCompleted}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)

	p := &payer{baseURL: ts.URL, key: key}
	loadCtx, stop := context.WithCancel(ctx)
	wg := p.run(loadCtx, 3)
	p.waitConfirmed(t, 5, 20*time.Second, "some payments before the crash")
	cluster.Crash(t)
	// Postgres stays down until the customers have felt it: Herald answers,
	// but cannot take payments.
	_, _, failedBefore := p.counts()
	waitFor(t, 20*time.Second, "payments to fail while Postgres is down", func() bool {
		_, _, failed := p.counts()
		return failed >= failedBefore+10
	})
	cluster.Start(t)
	before, _, _ := p.counts()
	p.waitConfirmed(t, before+5, 60*time.Second, "payments to succeed again after the restart")
	stop()
	wg.Wait()
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/healthz", "", nil).Status)
	confirmed, cutOff, failed := p.counts()
	t.Logf("%d payments confirmed, %d requests cut off and %d failed while Postgres was down", confirmed, cutOff, failed)
	checkNothingLost(t, ts.Pool(), s, p.confirmed)
}

// Endpoints that misbehave in every way at once: each attempt is recorded
// with its class, the well-behaved endpoint beside them is still served at
// once, and memory stays bounded.
func TestHostileEndpoints(t *testing.T) {
	t.Parallel()

	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	f := newDeliveryFixture(t, nil, func(c *Config) {
		// Generous enough that the well-behaved answers make it even on a
		// loaded CI machine; the hostile ones take longer still.
		c.DeliveryTimeout = 1500 * time.Millisecond
		c.RetrySchedule = []time.Duration{time.Hour}
		c.InflightPerEndpoint = 2
	})
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}
	chunk := []byte(strings.Repeat("x", 64<<10))
	// Each payment's delivery meets the huge answer: hugeSent is the most
	// one answer let through, hugeDone closes when the first has ended.
	var hugeSent atomic.Int64
	var hugeOnce sync.Once
	hugeDone := make(chan struct{})
	handlers := map[string]http.HandlerFunc{
		"never-answers": hang,
		"answers-late": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
				return
			}
			w.WriteHeader(http.StatusOK)
		},
		"slow-loris": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			for range 300 {
				if _, err := w.Write([]byte(".")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-time.After(100 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
		},
		"huge-answer": func(w http.ResponseWriter, r *http.Request) {
			// Counts what the worker let through before it hung up: the
			// kernel's socket buffers hold a few MiB, the rest of the 100 MB
			// must never be sent. (The process's heap would say the same
			// less reliably: parallel tests share it.)
			var sent int64
			defer func() {
				for cur := hugeSent.Load(); sent > cur && !hugeSent.CompareAndSwap(cur, sent); cur = hugeSent.Load() {
				}
				hugeOnce.Do(func() { close(hugeDone) })
			}()
			w.WriteHeader(http.StatusOK)
			for range 100 << 20 / len(chunk) { // 100 MB
				if _, err := w.Write(chunk); err != nil {
					return
				}
				sent += int64(len(chunk))
			}
		},
		"redirect-loop": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.String(), http.StatusFound) },
		"server-errors": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "storm", http.StatusBadGateway) },
		"rate-limited": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "999999999")
			w.WriteHeader(http.StatusTooManyRequests)
		},
		"gone": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) },
	}
	want := map[string]struct {
		class  any
		status any
	}{
		"never-answers": {"timeout", nil}, "answers-late": {"timeout", nil}, "slow-loris": {nil, 200.0},
		"huge-answer": {nil, 200.0}, "redirect-loop": {"http_status", 302.0}, "server-errors": {"http_status", 502.0},
		"rate-limited": {"http_status", 429.0}, "gone": {"http_status", 410.0}, "bad-tls": {"tls", nil}, "healthy": {nil, 200.0},
	}
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		handlers[strings.TrimPrefix(r.URL.Path, "/")](w, r)
	}))
	t.Cleanup(hostile.Close)
	badTLS := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(badTLS.Close)

	endpointName := map[string]string{f.endpointID(): "healthy"}
	for name := range handlers {
		endpointName[f.createEndpoint(t, hostile.URL+"/"+name)["id"].(string)] = name
	}
	endpointName[f.createEndpoint(t, badTLS.URL+"/hooks")["id"].(string)] = "bad-tls"

	start := time.Now()
	f.pay(t)
	healthy := f.sink.Wait(t, 1)
	require.Less(t, healthy[0].At.Sub(start), 5*time.Second, "the healthy endpoint is not held up")

	for _, d := range f.waitAttempted(t, 30*time.Second, "a first attempt at every endpoint", len(endpointName)) {
		name := endpointName[d["endpoint"].(string)]
		a := attemptsOf(f.delivery(t, d["id"].(string)))[0]
		require.Equal(t, want[name].class, a["error_class"], name)
		require.Equal(t, want[name].status, a["response_status"], name)
		switch name {
		case "huge-answer":
			require.Len(t, a["response_body"], 4096, "only 4 KiB of the answer is kept")
		case "rate-limited":
			next := time.Unix(int64(d["next_attempt_at"].(float64)), 0)
			require.WithinDuration(t, time.Now().Add(24*time.Hour), next, time.Minute, "Retry-After is clamped to 24 h")
		}
	}
	r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints?limit=100", f.key, nil)
	for _, e := range r.Body["data"].([]any) {
		e := e.(map[string]any)
		if endpointName[e["id"].(string)] == "gone" {
			require.Equal(t, "disabled", e["status"])
		}
	}

	// Nothing is stuck: a second payment reaches the healthy endpoint at once.
	start = time.Now()
	f.pay(t)
	second := f.sink.Wait(t, 2)[1]
	require.Less(t, second.At.Sub(start), 5*time.Second)
	select {
	case <-hugeDone:
	case <-time.After(30 * time.Second):
		t.Fatal("the huge answer was still being read after 30 s")
	}
	t.Logf("of the 100 MB answer, %d MiB left the server before the worker hung up", hugeSent.Load()>>20)
	require.Less(t, hugeSent.Load(), int64(16<<20), "a 100 MB answer is not read to its end")
}
