package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/webhook"
)

// newSink starts a merchant's webhook endpoint on 127.0.0.1 that records
// every request and answers as handler says (200 when nil).
func newSink(t *testing.T, handler sinktest.Handler) *sinktest.Sink { return sinktest.New(t, handler) }

// status answers every request with code.
var status = sinktest.Answer

// deliveryFixture is a server, a merchant and one endpoint on a sink,
// subscribed to checkout.session.completed.
type deliveryFixture struct {
	ts       *testServer
	key      string
	sink     *sinktest.Sink
	endpoint map[string]any
}

func newDeliveryFixture(t *testing.T, handler func(int, http.ResponseWriter, *http.Request), mutate ...func(*Config)) *deliveryFixture {
	t.Helper()
	f := &deliveryFixture{ts: startServer(t, mutate...), sink: newSink(t, handler)}
	_, f.key = f.ts.newMerchant(t, "Acme")
	f.endpoint = f.createEndpoint(t, f.sink.URL+"/webhooks")
	return f
}

func (f *deliveryFixture) createEndpoint(t *testing.T, endpointURL string) map[string]any {
	t.Helper()
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints", f.key, map[string]any{
		"url": endpointURL, "enabled_events": []string{webhook.TypeCheckoutSessionCompleted},
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	return r.Body
}

func (f *deliveryFixture) endpointID() string { return f.endpoint["id"].(string) }

// pay creates a session and pays it, which emits checkout.session.completed.
func (f *deliveryFixture) pay(t *testing.T) string {
	t.Helper()
	r := f.ts.call(t, http.MethodPost, "/v1/checkout/sessions", f.key, sessionBody())
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	sessionID := r.Body["id"].(string)
	card, err := checkout.ParseCard(checkout.TestCardVisa, "12/40", "123", time.Now())
	require.NoError(t, err)
	res, err := f.ts.Checkout.Pay(context.Background(), checkout.PayRequest{SessionID: sessionID, Card: card, CardholderName: "Jo", Email: "jo@example.com"})
	require.NoError(t, err)
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
	return sessionID
}

// deliveries lists the fixture merchant's deliveries matching query.
func (f *deliveryFixture) deliveries(t *testing.T, query string) []map[string]any {
	t.Helper()
	r := f.ts.call(t, http.MethodGet, "/v1/deliveries?limit=100&"+query, f.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	var out []map[string]any
	for _, d := range r.Body["data"].([]any) {
		out = append(out, d.(map[string]any))
	}
	return out
}

func (f *deliveryFixture) delivery(t *testing.T, deliveryID string) map[string]any {
	t.Helper()
	r := f.ts.call(t, http.MethodGet, "/v1/deliveries/"+deliveryID, f.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	return r.Body
}

// waitDeliveries polls until n deliveries have the status.
func (f *deliveryFixture) waitDeliveries(t *testing.T, status string, n int) []map[string]any {
	t.Helper()
	var list []map[string]any
	waitFor(t, 30*time.Second, fmt.Sprintf("%d %s deliveries", n, status), func() bool {
		list = f.deliveries(t, "status="+status)
		return len(list) >= n
	})
	return list
}

// waitAttempted polls until there are n deliveries, each attempted at
// least once, and returns them.
func (f *deliveryFixture) waitAttempted(t *testing.T, timeout time.Duration, what string, n int) []map[string]any {
	t.Helper()
	var list []map[string]any
	waitFor(t, timeout, what, func() bool {
		list = f.deliveries(t, "")
		for _, d := range list {
			if d["attempt_count"].(float64) < 1 {
				return false
			}
		}
		return len(list) == n
	})
	return list
}

func attemptsOf(d map[string]any) []map[string]any {
	var out []map[string]any
	for _, a := range d["attempts"].([]any) {
		out = append(out, a.(map[string]any))
	}
	return out
}

// A paid checkout reaches the endpoint signed so that the Standard Webhooks
// library verifies it, carrying the event as the body; the delivery and its
// attempt are recorded.
func TestWebhookDeliveredAndVerified(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	secret := f.endpoint["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	sessionID := f.pay(t)

	req := f.sink.Wait(t, 1)[0]
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(req.Body, req.Header), "the peer library verifies Herald's signature")
	require.Equal(t, "application/json", req.Header.Get("Content-Type"))

	var ev webhook.Event
	require.NoError(t, json.Unmarshal(req.Body, &ev))
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, ev.Type)
	require.Equal(t, ev.ID, req.Header.Get("webhook-id"), "webhook-id is the event id")
	var session map[string]any
	require.NoError(t, json.Unmarshal(ev.Data.Object, &session))
	require.Equal(t, sessionID, session["id"])
	require.Equal(t, "paid", session["payment_status"])

	list := f.waitDeliveries(t, "succeeded", 1)
	require.Len(t, list, 1, "charge.succeeded is not subscribed")
	d := f.delivery(t, list[0]["id"].(string))
	require.Equal(t, ev.ID, d["event"])
	require.Equal(t, f.endpointID(), d["endpoint"])
	require.InDelta(t, 1, d["attempt_count"], 0)
	attempts := attemptsOf(d)
	require.Len(t, attempts, 1)
	require.Equal(t, "initial", attempts[0]["trigger"])
	require.InDelta(t, 200, attempts[0]["response_status"], 0)
	require.Nil(t, attempts[0]["error_class"])
	require.Equal(t, ev.ID, attempts[0]["request_headers"].(map[string]any)["Webhook-Id"])

	r := f.ts.call(t, http.MethodGet, "/v1/events/"+ev.ID, f.key, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, r.Body["type"])
	r = f.ts.call(t, http.MethodGet, "/v1/events?type=charge.succeeded", f.key, nil)
	require.Len(t, r.Body["data"], 1)

	r = f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
	require.NotContains(t, r.Body, "secret", "the secret is shown once, on create")
	waitFor(t, 5*time.Second, "last_success_at", func() bool {
		r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
		return r.Body["health"].(map[string]any)["last_success_at"] != nil
	})

	metrics := scrape(t, f.ts)
	require.Contains(t, metrics, `herald_delivery_attempts_total{result="success",status_class="2xx"} 1`)
	require.Contains(t, metrics, "herald_delivery_lag_seconds_count 1")
	require.Contains(t, metrics, "herald_breakers_open 0")
	require.Contains(t, metrics, `herald_endpoints{status="enabled"} 1`)
	require.Contains(t, metrics, `herald_delivery_http_request_duration_seconds_count{method="post",status_class="2xx"} 1`)
	require.Contains(t, metrics, `herald_queue_jobs{queue=`)
}

func scrape(t *testing.T, ts *testServer) string {
	t.Helper()
	_, metrics := httpGet(t, ts.URL()+"/metrics")
	return metrics
}

// 500 then 200: two attempts with the same webhook-id and a new timestamp
// and signature each time.
func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			http.Error(w, "database down", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}, func(c *Config) { c.RetrySchedule = []time.Duration{1100 * time.Millisecond, time.Hour} })
	f.pay(t)

	reqs := f.sink.Wait(t, 2)
	require.Equal(t, reqs[0].Header.Get("webhook-id"), reqs[1].Header.Get("webhook-id"))
	require.NotEqual(t, reqs[0].Header.Get("webhook-timestamp"), reqs[1].Header.Get("webhook-timestamp"))
	require.NotEqual(t, reqs[0].Header.Get("webhook-signature"), reqs[1].Header.Get("webhook-signature"))
	require.Equal(t, reqs[0].Body, reqs[1].Body)
	gap := reqs[1].At.Sub(reqs[0].At)
	require.Greater(t, gap, 800*time.Millisecond, "the retry waits for the schedule (±20 %)")

	d := f.delivery(t, f.waitDeliveries(t, "succeeded", 1)[0]["id"].(string))
	attempts := attemptsOf(d)
	require.Len(t, attempts, 2)
	require.Equal(t, "initial", attempts[0]["trigger"])
	require.InDelta(t, 500, attempts[0]["response_status"], 0)
	require.Equal(t, "http_status", attempts[0]["error_class"])
	require.Equal(t, "database down\n", attempts[0]["response_body"])
	require.Equal(t, "retry", attempts[1]["trigger"])
	require.InDelta(t, 204, attempts[1]["response_status"], 0)
}

// 429 with Retry-After: the next attempt waits as asked, not the (much
// shorter) schedule.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}, func(c *Config) { c.RetrySchedule = []time.Duration{100 * time.Millisecond, time.Hour} })
	f.pay(t)

	reqs := f.sink.Wait(t, 2)
	require.GreaterOrEqual(t, reqs[1].At.Sub(reqs[0].At), 1900*time.Millisecond)
	d := f.delivery(t, f.waitDeliveries(t, "succeeded", 1)[0]["id"].(string))
	require.InDelta(t, 2, d["attempt_count"], 0)
	require.InDelta(t, 429, attemptsOf(d)[0]["response_status"], 0)
}

// 410 Gone disables the endpoint with a reason and cancels what was
// pending; later events create no delivery for it.
func TestGoneDisablesEndpoint(t *testing.T) {
	t.Parallel()

	// The first request is held until three deliveries exist, so two are
	// pending when the 410 arrives.
	release := make(chan struct{})
	f := newDeliveryFixture(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusGone)
	}, func(c *Config) { c.InflightPerEndpoint = 1 })
	for range 3 {
		f.pay(t)
	}
	f.sink.Wait(t, 1)
	close(release)
	waitFor(t, 20*time.Second, "the endpoint to be disabled", func() bool {
		r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
		return r.Body["status"] == "disabled"
	})
	r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
	require.Contains(t, r.Body["disabled_reason"], "410")

	require.Len(t, f.deliveries(t, "status=failed"), 1)
	require.Len(t, f.deliveries(t, "status=canceled"), 2, "what was pending is cancelled")
	require.Empty(t, f.deliveries(t, "status=pending"))
	require.Len(t, f.sink.Requests(), 1)

	// What arrives while it is disabled is skipped, not dropped: no job,
	// no attempt, until a redrive sends it.
	f.pay(t)
	skipped := f.deliveries(t, "status=skipped")
	require.Len(t, skipped, 1)
	require.InDelta(t, 0, skipped[0]["attempt_count"], 0)
	require.Len(t, f.sink.Requests(), 1, "a disabled endpoint receives nothing new")

	// Re-enabling redrives nothing unless asked.
	r = f.ts.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+f.endpointID(), f.key, map[string]any{"status": "enabled"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Nil(t, r.Body["disabled_reason"])
	require.Len(t, f.deliveries(t, "status=pending"), 0)
	require.Len(t, f.deliveries(t, "status=skipped"), 1)

	// Asked: what it missed goes out.
	f.sink.SetHandler(nil)
	r = f.ts.call(t, http.MethodPost, "/v1/redrives", f.key, map[string]any{"endpoint_id": f.endpointID(), "status": "skipped"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.InDelta(t, 1, r.Body["matched"], 0)
	reqs := f.sink.Wait(t, 2)
	require.Equal(t, skipped[0]["event"], reqs[1].Header.Get("Webhook-Id"))
	f.waitDeliveries(t, "succeeded", 1)
}

// Each way an attempt can fail without an answer is recorded with its
// class; a redirect is a failed answer and is not followed.
func TestAttemptErrorClasses(t *testing.T) {
	t.Parallel()

	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	elsewhere := newSink(t, nil)
	f := newDeliveryFixture(t, nil, func(c *Config) {
		c.DeliveryTimeout = 300 * time.Millisecond
		c.RetrySchedule = []time.Duration{time.Hour}
	})
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		return "http://" + addr + "/hooks"
	}()
	slow := newSink(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	})
	redirect := newSink(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/moved", http.StatusFound)
	})
	// The fixture's own endpoint is not part of this test.
	require.Equal(t, http.StatusOK, f.ts.call(t, http.MethodDelete, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil).Status)
	type outcome struct {
		class  string
		status float64
		// message is how the attempt log's error_message starts.
		message string
	}
	want := map[string]outcome{}
	for endpointURL, w := range map[string]outcome{
		refused:                            {"connection_refused", 0, "connection refused by the endpoint's IP address, port "},
		slow.URL + "/hooks":                {"timeout", 0, "no response within 300ms"},
		redirect.URL + "/hooks":            {"http_status", 302, ""},
		"http://nonexistent.invalid/hooks": {"dns", 0, "could not resolve host nonexistent.invalid"},
	} {
		want[f.createEndpoint(t, endpointURL)["id"].(string)] = w
	}
	f.pay(t)

	var list []map[string]any
	waitFor(t, 20*time.Second, "four first attempts", func() bool {
		list = f.deliveries(t, "")
		if len(list) != 4 {
			return false
		}
		for _, d := range list {
			if d["attempt_count"].(float64) < 1 {
				return false
			}
		}
		return true
	})
	for _, d := range list {
		w := want[d["endpoint"].(string)]
		a := attemptsOf(f.delivery(t, d["id"].(string)))[0]
		require.Equal(t, w.class, a["error_class"], "endpoint %s", d["endpoint"])
		if w.status == 0 {
			require.Nil(t, a["response_status"])
			msg := a["error_message"].(string)
			require.True(t, strings.HasPrefix(msg, w.message), "error_message %q", msg)
			requireNoIPLiteral(t, msg)
		} else {
			require.InDelta(t, w.status, a["response_status"], 0)
		}
		require.Equal(t, "pending", d["status"], "a retry is scheduled")
		require.NotNil(t, d["next_attempt_at"])
	}
	require.Empty(t, elsewhere.Requests(), "redirects are never followed")
	metrics := scrape(t, f.ts)
	for _, class := range []string{"connection_refused", "timeout", "dns", "3xx"} {
		require.Contains(t, metrics, `herald_delivery_attempts_total{result="failure",status_class="`+class+`"} 1`)
	}
}

var ipLiteral = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,}`)

// requireNoIPLiteral checks that an attempt message shown to merchants
// names no address: not the endpoint's resolved one, not Herald's, not the
// resolver's.
func requireNoIPLiteral(t *testing.T, msg string) {
	t.Helper()
	require.False(t, ipLiteral.MatchString(msg), "an IP address in %q", msg)
	require.NotContains(t, msg, ":53", "the resolver's port in %q", msg)
}

// After five failures in a row the endpoint's breaker opens: further
// deliveries wait (snoozed, no attempt spent) until a probe succeeds.
func TestBreakerSnoozesWithoutSpendingAttempts(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, status(http.StatusServiceUnavailable), func(c *Config) {
		c.InflightPerEndpoint = 1 // one at a time, so exactly five get through
		c.RetrySchedule = []time.Duration{time.Hour}
		// Long enough that no probe slips in before the assertions below,
		// even on a loaded machine.
		c.BreakerOpenFor = 10 * time.Second
	})
	for range 8 {
		f.pay(t)
	}
	f.sink.Wait(t, 5)
	waitFor(t, 20*time.Second, "the breaker to open", func() bool {
		r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
		return r.Body["health"].(map[string]any)["breaker_state"] == "open"
	})
	waitFor(t, 10*time.Second, "three snoozed deliveries", func() bool {
		return strings.Contains(scrape(t, f.ts), `herald_delivery_snoozes_total{reason="breaker_open"} `) &&
			len(f.deliveries(t, "status=pending")) == 8
	})
	require.Len(t, f.sink.Requests(), 5, "the open breaker lets nothing through")
	// A delivery held by the breaker says why, and when it goes next.
	endpoint := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil).Body
	require.Equal(t, "open", endpoint["health"].(map[string]any)["breaker_state"])
	probe := time.Now().Add(10 * time.Second).Unix()
	for _, d := range f.deliveries(t, "status=pending") {
		require.Equal(t, "breaker_open", d["held_reason"])
		require.Equal(t, true, d["held"])
		next := int64(d["next_attempt_at"].(float64))
		if d["attempt_count"].(float64) == 0 {
			require.InDelta(t, probe, next, 10, "an untried delivery goes with the probe")
		} else {
			require.Greater(t, next, probe+40*60, "a failed one keeps its later retry (an hour, ±20 %)")
		}
	}
	untried := 0
	for _, d := range f.deliveries(t, "") {
		if d["attempt_count"].(float64) == 0 {
			untried++
		}
	}
	require.Equal(t, 3, untried, "snoozed deliveries keep their attempt count")
	require.Contains(t, scrape(t, f.ts), "herald_breakers_open 1")

	// The endpoint recovers: the probe succeeds and the snoozed deliveries go.
	f.sink.SetHandler(status(http.StatusOK))
	f.waitDeliveries(t, "succeeded", 3)
	for _, d := range f.deliveries(t, "status=succeeded") {
		require.InDelta(t, 1, d["attempt_count"], 0, "one attempt, after the breaker closed")
	}
	require.Len(t, f.sink.Requests(), 8)
}

// A paused endpoint holds its deliveries without an attempt; resuming
// releases them.
func TestPauseHoldsResumeReleases(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	r := f.ts.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+f.endpointID(), f.key, map[string]any{"paused": true})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, true, r.Body["paused"])
	f.pay(t)
	f.pay(t)

	list := f.deliveries(t, "")
	require.Len(t, list, 2)
	for _, d := range list {
		require.Equal(t, "pending", d["status"])
		require.Equal(t, true, d["held"])
		require.InDelta(t, 0, d["attempt_count"], 0)
	}
	require.Contains(t, scrape(t, f.ts), `herald_endpoints{status="paused"} 1`)
	require.Empty(t, f.sink.Requests())

	r = f.ts.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+f.endpointID(), f.key, map[string]any{"paused": false})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	f.waitDeliveries(t, "succeeded", 2)
	require.Len(t, f.sink.Requests(), 2)
}

// Pausing an endpoint whose delivery is already waiting for a retry holds
// that delivery too when its retry comes.
func TestPauseHoldsScheduledRetry(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, status(http.StatusBadGateway), func(c *Config) {
		c.RetrySchedule = []time.Duration{time.Second, time.Hour}
	})
	f.pay(t)
	f.sink.Wait(t, 1)
	require.Equal(t, http.StatusOK, f.ts.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+f.endpointID(), f.key,
		map[string]any{"paused": true}).Status)
	waitFor(t, 10*time.Second, "the retry to be held", func() bool {
		list := f.deliveries(t, "")
		return len(list) == 1 && list[0]["held"] == true
	})
	require.Len(t, f.sink.Requests(), 1)

	f.sink.SetHandler(nil)
	require.Equal(t, http.StatusOK, f.ts.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+f.endpointID(), f.key,
		map[string]any{"paused": false}).Status)
	d := f.waitDeliveries(t, "succeeded", 1)[0]
	require.InDelta(t, 2, d["attempt_count"], 0)
}

// During a secret roll both secrets sign; each verifies on its own.
func TestRollSecretSignsWithBoth(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	oldSecret := f.endpoint["secret"].(string)
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 3600})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	newSecret := r.Body["secret"].(string)
	require.NotEqual(t, oldSecret, newSecret)

	f.pay(t)
	req := f.sink.Wait(t, 1)[0]
	require.Len(t, strings.Fields(req.Header.Get("webhook-signature")), 2)
	for _, secret := range []string{oldSecret, newSecret} {
		v, err := webhook.NewVerifier(secret)
		require.NoError(t, err)
		require.NoError(t, v.Verify(req.Header, req.Body))
	}

	// Rolling with no overlap drops the old secret at once.
	r = f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 0})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	latest := r.Body["secret"].(string)
	f.pay(t)
	req = f.sink.Wait(t, 2)[1]
	require.Len(t, strings.Fields(req.Header.Get("webhook-signature")), 1)
	v, err := webhook.NewVerifier(latest)
	require.NoError(t, err)
	require.NoError(t, v.Verify(req.Header, req.Body))
	v, err = webhook.NewVerifier(newSecret)
	require.NoError(t, err)
	require.ErrorIs(t, v.Verify(req.Header, req.Body), webhook.ErrNoMatchingSignature)
}

// Without an allow list, loopback and private targets are refused at dial
// time, by address and by a name that resolves to one.
func TestSSRFGuardBlocksPrivateTargets(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil, func(c *Config) {
		c.AllowPrivateEndpoints = nil
		c.RetrySchedule = []time.Duration{time.Hour}
	})
	f.createEndpoint(t, strings.Replace(f.sink.URL, "127.0.0.1", "localhost", 1)+"/webhooks")
	f.createEndpoint(t, "http://169.254.169.254/latest/meta-data")
	f.pay(t)

	for _, d := range f.waitAttempted(t, 20*time.Second, "three attempts", 3) {
		a := attemptsOf(f.delivery(t, d["id"].(string)))[0]
		require.Equal(t, "ssrf_blocked", a["error_class"])
		msg := a["error_message"].(string)
		require.Contains(t, []string{
			"localhost resolves to an address Herald does not deliver to (loopback, private, link-local or reserved)",
			"the endpoint's IP address is one Herald does not deliver to (loopback, private, link-local or reserved)",
		}, msg)
		requireNoIPLiteral(t, msg)
	}
	require.Empty(t, f.sink.Requests(), "nothing reached the private address")
}

// Bulk redrive: a dry run counts what a real run then redrives, each
// delivery exactly once, with the same webhook-id.
func TestBulkRedrive(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, status(http.StatusInternalServerError), func(c *Config) {
		c.RetrySchedule = []time.Duration{50 * time.Millisecond}
		c.BreakerOpenFor = 100 * time.Millisecond // eight failures open it; keep it out of the way
	})
	for range 4 {
		f.pay(t)
	}
	failed := f.waitDeliveries(t, "failed", 4)
	require.Len(t, f.sink.Requests(), 8, "two attempts each")
	f.sink.SetHandler(nil)

	for _, tt := range []struct {
		body    map[string]any
		matched float64
	}{
		{map[string]any{"dry_run": true}, 4},
		{map[string]any{"dry_run": true, "status": "failed", "endpoint_id": f.endpointID()}, 4},
		{map[string]any{"dry_run": true, "event_type": "charge.failed"}, 0},
		{map[string]any{"dry_run": true, "status": "succeeded"}, 0},
		{map[string]any{"dry_run": true, "until": time.Now().Add(-time.Hour).Unix()}, 0},
	} {
		r := f.ts.call(t, http.MethodPost, "/v1/redrives", f.key, tt.body)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		require.Equal(t, true, r.Body["dry_run"])
		require.Nil(t, r.Body["id"], "a dry run is not kept")
		require.Nil(t, r.Body["status"])
		require.InDelta(t, tt.matched, r.Body["matched"], 0, "%v", tt.body)
	}

	r := f.ts.call(t, http.MethodPost, "/v1/redrives", f.key, map[string]any{"status": "failed"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	redriveID := r.Body["id"].(string)
	require.InDelta(t, 4, r.Body["matched"], 0)
	waitFor(t, 20*time.Second, "the redrive to complete", func() bool {
		r := f.ts.call(t, http.MethodGet, "/v1/redrives/"+redriveID, f.key, nil)
		return r.Body["status"] == "completed"
	})
	r = f.ts.call(t, http.MethodGet, "/v1/redrives/"+redriveID, f.key, nil)
	require.InDelta(t, 4, r.Body["enqueued"], 0)
	f.waitDeliveries(t, "succeeded", 4)

	perID := map[string]int{}
	for _, req := range f.sink.Requests()[8:] {
		perID[req.Header.Get("webhook-id")]++
	}
	require.Len(t, perID, 4)
	for msgID, n := range perID {
		require.Equal(t, 1, n, "%s redriven once", msgID)
	}
	d := f.delivery(t, failed[0]["id"].(string))
	attempts := attemptsOf(d)
	require.Len(t, attempts, 3)
	require.Equal(t, "redrive", attempts[2]["trigger"])

	r = f.ts.call(t, http.MethodPost, "/v1/redrives/"+redriveID+"/cancel", f.key, nil)
	require.Equal(t, http.StatusConflict, r.Status)
	require.Equal(t, "redrive_finished", r.errorField("code"))

	// Redriving one delivery sends it once more; redriving it again while it
	// is on its way changes nothing.
	r = f.ts.call(t, http.MethodPost, "/v1/deliveries/"+failed[0]["id"].(string)+"/redrive", f.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	f.sink.Wait(t, 13)
	waitFor(t, 10*time.Second, "the single redrive", func() bool {
		return f.delivery(t, failed[0]["id"].(string))["status"] == "succeeded"
	})
	require.Len(t, attemptsOf(f.delivery(t, failed[0]["id"].(string))), 4)
}

// Deliveries of a disabled endpoint cannot be redriven until it is enabled.
func TestRedriveDisabledEndpoint(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, status(http.StatusGone))
	f.pay(t)
	d := f.waitDeliveries(t, "failed", 1)[0]
	r := f.ts.call(t, http.MethodPost, "/v1/deliveries/"+d["id"].(string)+"/redrive", f.key, nil)
	require.Equal(t, http.StatusConflict, r.Status)
	require.Equal(t, "endpoint_disabled", r.errorField("code"))
}

func TestEndpointAPI(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	base := "/v1/webhook_endpoints"

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()

		for _, tt := range []struct {
			body  any
			code  string
			param string
		}{
			{map[string]any{"enabled_events": []string{"*"}}, "parameter_missing", "url"},
			{map[string]any{"url": "ftp://x.test/h", "enabled_events": []string{"*"}}, "url_invalid", "url"},
			{map[string]any{"url": "https://user:pw@x.test/h", "enabled_events": []string{"*"}}, "url_invalid", "url"},
			{map[string]any{"url": "/relative", "enabled_events": []string{"*"}}, "url_invalid", "url"},
			{map[string]any{"url": "https://x.test/h"}, "parameter_missing", "enabled_events"},
			{map[string]any{"url": "https://x.test/h", "enabled_events": []string{"order.shipped"}}, "parameter_invalid", "enabled_events[0]"},
			{map[string]any{"url": "https://x.test/h", "enabled_events": []string{"*"}, "status": "broken"}, "parameter_invalid", "status"},
			{map[string]any{"url": "https://x.test/h", "enabled_events": []string{"*"}, "secret": "mine"}, "parameter_unknown", "secret"},
			{`{"url": 7}`, "parameter_invalid_type", "url"},
		} {
			r := f.ts.call(t, http.MethodPost, base, f.key, tt.body)
			require.Equal(t, http.StatusBadRequest, r.Status, r.Raw)
			require.Equal(t, tt.code, r.errorField("code"), r.Raw)
			require.Equal(t, tt.param, r.errorField("param"))
		}
	})

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()

		r := f.ts.call(t, http.MethodPost, base, f.key, map[string]any{
			"url": "https://shop.test/hooks", "enabled_events": []string{"charge.failed", "*"}, "description": "all of it",
		})
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		endpointID := r.Body["id"].(string)
		require.True(t, strings.HasPrefix(endpointID, "we_"))
		require.Equal(t, []any{"*"}, r.Body["enabled_events"], "* swallows the rest")
		require.Equal(t, "enabled", r.Body["status"])

		r = f.ts.call(t, http.MethodPatch, base+"/"+endpointID, f.key, map[string]any{
			"enabled_events": []string{"checkout.session.expired", "checkout.session.completed", "checkout.session.expired"},
			"description":    "sessions",
		})
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		require.Equal(t, []any{"checkout.session.completed", "checkout.session.expired"}, r.Body["enabled_events"])
		require.Equal(t, "https://shop.test/hooks", r.Body["url"], "fields not sent are kept")

		r = f.ts.call(t, http.MethodPatch, base+"/"+endpointID, f.key, map[string]any{"status": "disabled"})
		require.Equal(t, "disabled", r.Body["status"])
		require.Equal(t, "disabled through the API", r.Body["disabled_reason"])

		r = f.ts.call(t, http.MethodGet, base+"?limit=1", f.key, nil)
		require.Equal(t, true, r.Body["has_more"])
		r = f.ts.call(t, http.MethodGet, base+"?starting_after="+endpointID, f.key, nil)
		require.Len(t, r.Body["data"], 1, "the fixture's endpoint is older")

		r = f.ts.call(t, http.MethodDelete, base+"/"+endpointID, f.key, nil)
		require.Equal(t, http.StatusOK, r.Status)
		require.Equal(t, true, r.Body["deleted"])
		require.Equal(t, http.StatusNotFound, f.ts.call(t, http.MethodGet, base+"/"+endpointID, f.key, nil).Status)
		require.Equal(t, http.StatusNotFound, f.ts.call(t, http.MethodDelete, base+"/"+endpointID, f.key, nil).Status)
	})

	t.Run("RollSecretValidation", func(t *testing.T) {
		t.Parallel()

		r := f.ts.call(t, http.MethodPost, base+"/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 8 * 86400})
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.Equal(t, "expire_previous_in", r.errorField("param"))
	})
}

func TestProductionRequiresHTTPSEndpoints(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) {
		c.Env = envProduction
		c.Secret = strings.Repeat("p", 40)
		c.AllowPrivateEndpoints = nil
	})
	_, key := ts.newMerchant(t, "Acme")
	r := ts.call(t, http.MethodPost, "/v1/webhook_endpoints", key, map[string]any{"url": "http://shop.test/hooks", "enabled_events": []string{"*"}})
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Contains(t, r.errorField("message"), "https")
	r = ts.call(t, http.MethodPost, "/v1/webhook_endpoints", key, map[string]any{"url": "https://shop.test/hooks", "enabled_events": []string{"*"}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
}

// Merchant B's key on every one of merchant A's objects answers 404.
func TestDeliveryTenantIsolation(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	f.pay(t)
	d := f.waitDeliveries(t, "succeeded", 1)[0]
	_, otherKey := f.ts.newMerchant(t, "Other")
	r := f.ts.call(t, http.MethodPost, "/v1/redrives", f.key, map[string]any{"status": "succeeded"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	redriveID := r.Body["id"].(string)

	for _, route := range []struct{ method, path string }{
		{http.MethodGet, "/v1/webhook_endpoints/" + f.endpointID()},
		{http.MethodPatch, "/v1/webhook_endpoints/" + f.endpointID()},
		{http.MethodDelete, "/v1/webhook_endpoints/" + f.endpointID()},
		{http.MethodPost, "/v1/webhook_endpoints/" + f.endpointID() + "/roll_secret"},
		{http.MethodGet, "/v1/events/" + d["event"].(string)},
		{http.MethodGet, "/v1/deliveries/" + d["id"].(string)},
		{http.MethodPost, "/v1/deliveries/" + d["id"].(string) + "/redrive"},
		{http.MethodGet, "/v1/redrives/" + redriveID},
		{http.MethodPost, "/v1/redrives/" + redriveID + "/cancel"},
	} {
		var body any
		if route.method == http.MethodPatch {
			body = map[string]any{"paused": true}
		}
		r := f.ts.call(t, route.method, route.path, otherKey, body)
		require.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", route.method, route.path, r.Raw)
	}
	for _, list := range []string{"/v1/webhook_endpoints", "/v1/events", "/v1/deliveries"} {
		r := f.ts.call(t, http.MethodGet, list, otherKey, nil)
		require.Empty(t, r.Body["data"], list)
	}
	r = f.ts.call(t, http.MethodGet, "/v1/deliveries?starting_after="+d["id"].(string), otherKey, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	r = f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
	require.Equal(t, false, r.Body["paused"], "B's update did nothing")
}

// An endpoint that has not had a single success for DisableEndpointAfter is
// disabled at its next failure, with the reason, and its pending deliveries
// are cancelled.
func TestLongFailingEndpointIsDisabled(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, status(http.StatusServiceUnavailable))
	_, err := f.ts.Pool().Exec(context.Background(), `UPDATE webhook_endpoints SET failing_since = now() - interval '121 hours'`)
	require.NoError(t, err)
	f.pay(t)
	waitFor(t, 20*time.Second, "the endpoint to be disabled", func() bool {
		r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
		return r.Body["status"] == "disabled"
	})
	r := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil)
	require.Contains(t, r.Body["disabled_reason"], "no successful delivery for 5 days")
	waitFor(t, 10*time.Second, "the delivery to be cancelled", func() bool {
		return len(f.deliveries(t, "status=canceled")) == 1
	})
	require.Len(t, f.sink.Requests(), 1)
}

// A delivery whose job is deleted by hand (River UI can do that) is found
// by the leader's sweeper and sent anyway, at the time its retry was due.
func TestOrphanedDeliveryIsSwept(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, status(http.StatusInternalServerError), func(c *Config) {
		c.RetrySchedule = []time.Duration{3 * time.Second}
		c.SweepInterval = 200 * time.Millisecond
	})
	f.pay(t)
	first := f.sink.Wait(t, 1)[0]
	d := f.waitDeliveries(t, "pending", 1)[0]
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the retry's job", func() bool {
		var n int
		require.NoError(t, f.ts.Pool().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'delivery_id' = $1
			AND state IN ('scheduled', 'available') AND scheduled_at > now()`, d["id"]).Scan(&n))
		return n == 1
	})
	tag, err := f.ts.Pool().Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, d["id"])
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	f.sink.SetHandler(nil)

	f.waitDeliveries(t, "succeeded", 1)
	reqs := f.sink.Requests()
	require.Len(t, reqs, 2)
	require.GreaterOrEqual(t, reqs[1].At.Sub(first.At), 2*time.Second, "at the retry's time, not at once")
	require.Contains(t, scrape(t, f.ts), "herald_deliveries_orphaned_total 1")
	require.Contains(t, f.ts.logs.String(), `msg="re-enqueued orphaned deliveries" count=1`)
}
