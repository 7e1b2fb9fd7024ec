package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/apitest"
)

func TestAPIAuthentication(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")

	t.Run("NoKey", func(t *testing.T) {
		t.Parallel()

		r := ts.call(t, http.MethodGet, "/v1/checkout/sessions", "", nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "authentication_error", r.errorField("type"))
		require.Equal(t, "api_key_missing", r.errorField("code"))
	})

	t.Run("WrongKey", func(t *testing.T) {
		t.Parallel()

		last := "x"
		if strings.HasSuffix(key, last) {
			last = "y"
		}
		wrong := key[:len(key)-1] + last
		r := ts.call(t, http.MethodGet, "/v1/checkout/sessions", wrong, nil)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "api_key_invalid", r.errorField("code"))
		require.NotContains(t, r.Raw, wrong[8:len(wrong)-4], "the error never echoes the key")
	})

	t.Run("BasicAuth", func(t *testing.T) {
		t.Parallel()

		req, err := http.NewRequest(http.MethodGet, ts.URL()+"/v1/checkout/sessions", nil)
		require.NoError(t, err)
		req.SetBasicAuth(key, "")
		require.Equal(t, http.StatusOK, statusOf(t, req))
	})
}

func TestSessionCreate(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")

	body := sessionBody()
	body["customer_email"] = "jo@shop.test"
	body["client_reference_id"] = "order-42"
	body["metadata"] = map[string]string{"order_id": "42"}
	body["expires_in"] = 1800
	r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, body)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	s := r.Body
	sessionID := s["id"].(string)
	require.True(t, strings.HasPrefix(sessionID, "cs_"))
	require.Equal(t, "checkout.session", s["object"])
	require.Equal(t, ts.URL()+"/pay/"+sessionID, s["url"])
	require.Equal(t, "open", s["status"])
	require.Equal(t, "unpaid", s["payment_status"])
	require.Equal(t, "usd", s["currency"])
	require.InDelta(t, 3250, s["amount_subtotal"], 0)
	require.InDelta(t, 3250, s["amount_total"], 0)
	require.Equal(t, "jo@shop.test", s["customer_email"])
	require.Equal(t, "order-42", s["client_reference_id"])
	require.Equal(t, map[string]any{"order_id": "42"}, s["metadata"])
	require.InDelta(t, s["created"].(float64)+1800, s["expires_at"], 0)
	require.Nil(t, s["payment"])
	items := s["line_items"].([]any)
	require.Len(t, items, 2)
	require.Equal(t, map[string]any{"name": "Notebook", "unit_amount": 1500.0, "quantity": 2.0, "amount_total": 3000.0}, items[0])

	got := ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+sessionID, key, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, r.Body, got.Body)
}

func TestSessionCreateErrors(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	with := func(mutate func(map[string]any)) map[string]any {
		b := sessionBody()
		mutate(b)
		return b
	}
	for _, tt := range []struct {
		name   string
		body   any
		header []string
		status int
		code   string
		param  string
	}{
		{"malformed json", `{"currency": "usd",`, nil, 400, "json_invalid", ""},
		{"empty body", ``, nil, 400, "body_missing", ""},
		{"not an object", `["usd"]`, nil, 400, "json_invalid", ""},
		{"unknown field", with(func(b map[string]any) { b["mode"] = "payment" }), nil, 400, "parameter_unknown", "mode"},
		{"unknown line item field", with(func(b map[string]any) {
			b["line_items"] = []map[string]any{{"name": "A", "unit_amount": 1, "quantity": 1, "price": "x"}}
		}), nil, 400, "parameter_unknown", "line_items[0][price]"},
		{"string amount", with(func(b map[string]any) {
			b["line_items"] = []map[string]any{{"name": "A", "unit_amount": "100", "quantity": 1}}
		}), nil, 400, "parameter_invalid_type", "line_items[0][unit_amount]"},
		{"fractional amount", `{"line_items":[{"name":"A","unit_amount":10.5,"quantity":1}],"currency":"usd","success_url":"https://a.test","cancel_url":"https://a.test"}`,
			nil, 400, "parameter_invalid_integer", "line_items[0][unit_amount]"},
		{"overflowing amount", `{"line_items":[{"name":"A","unit_amount":9223372036854775808,"quantity":1}],"currency":"usd","success_url":"https://a.test","cancel_url":"https://a.test"}`,
			nil, 400, "parameter_invalid_integer", "line_items[0][unit_amount]"},
		{"metadata number", with(func(b map[string]any) { b["metadata"] = map[string]any{"n": 1} }), nil, 400, "parameter_invalid_type", "metadata[n]"},
		{"no line items", with(func(b map[string]any) { b["line_items"] = []any{} }), nil, 400, "parameter_missing", "line_items"},
		{"missing quantity", with(func(b map[string]any) {
			b["line_items"] = []map[string]any{{"name": "A", "unit_amount": 100}}
		}), nil, 400, "parameter_missing", "line_items[0][quantity]"},
		{"total too large", with(func(b map[string]any) {
			b["line_items"] = []map[string]any{{"name": "A", "unit_amount": 99_999_999_999, "quantity": 2}}
		}), nil, 400, "amount_too_large", "line_items[0]"},
		{"unknown currency", with(func(b map[string]any) { b["currency"] = "abc" }), nil, 400, "currency_invalid", "currency"},
		{"bad success url", with(func(b map[string]any) { b["success_url"] = "shop.test/ok" }), nil, 400, "url_invalid", "success_url"},
		{"missing cancel url", with(func(b map[string]any) { delete(b, "cancel_url") }), nil, 400, "parameter_missing", "cancel_url"},
		{"bad email", with(func(b map[string]any) { b["customer_email"] = "nope" }), nil, 400, "parameter_invalid", "customer_email"},
		{"expires_in too short", with(func(b map[string]any) { b["expires_in"] = 60 }), nil, 400, "parameter_invalid", "expires_in"},
		{"form encoding", "currency=usd", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		{"huge body", `{"currency":"` + strings.Repeat("x", 300<<10) + `"}`, nil, 413, "body_too_large", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, tt.body, tt.header...)
			require.Equal(t, tt.status, r.Status, r.Raw)
			require.Equal(t, "invalid_request_error", r.errorField("type"))
			require.Equal(t, tt.code, r.errorField("code"), r.Raw)
			if tt.param == "" {
				require.Nil(t, r.errorField("param"))
			} else {
				require.Equal(t, tt.param, r.errorField("param"))
			}
			require.NotEmpty(t, r.errorField("message"))
		})
	}

	var n int
	require.NoError(t, ts.Pool().QueryRow(context.Background(), `SELECT count(*) FROM checkout_sessions`).Scan(&n))
	require.Zero(t, n, "no invalid request created anything")
}

// Amounts are integers in the currency's minor unit, and the hosted page
// shows them with that currency's exponent.
func TestCurrencyExponents(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	for _, tt := range []struct {
		currency   string
		unitAmount int64
		quantity   int64
		total      float64
		shown      string
	}{
		{"usd", 1999, 3, 5997, "$59.97"},
		{"JPY", 500, 3, 1500, "¥1,500"},
		{"kwd", 1500, 1, 1500, "KWD\u00a01.500"},
		{"eur", 100_000, 12, 1_200_000, "€12,000.00"},
	} {
		t.Run(tt.currency, func(t *testing.T) {
			t.Parallel()

			body := sessionBody()
			body["currency"] = tt.currency
			body["line_items"] = []map[string]any{{"name": "Thing", "unit_amount": tt.unitAmount, "quantity": tt.quantity}}
			r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, body)
			require.Equal(t, http.StatusOK, r.Status, r.Raw)
			require.Equal(t, strings.ToLower(tt.currency), r.Body["currency"])
			require.InDelta(t, tt.total, r.Body["amount_total"], 0)

			resp, err := http.Get(r.Body["url"].(string))
			require.NoError(t, err)
			page, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Contains(t, string(page), "Pay "+tt.shown)
		})
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, keyA := ts.newMerchant(t, "A")
	_, keyB := ts.newMerchant(t, "B")
	a := ts.call(t, http.MethodPost, "/v1/checkout/sessions", keyA, sessionBody())
	require.Equal(t, http.StatusOK, a.Status)
	sessionID := a.Body["id"].(string)

	r := ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+sessionID, keyB, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "resource_missing", r.errorField("code"))

	r = ts.call(t, http.MethodPost, "/v1/checkout/sessions/"+sessionID+"/expire", keyB, nil)
	require.Equal(t, http.StatusNotFound, r.Status)

	r = ts.call(t, http.MethodGet, "/v1/checkout/sessions", keyB, nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Empty(t, r.Body["data"])

	r = ts.call(t, http.MethodGet, "/v1/checkout/sessions?starting_after="+sessionID, keyB, nil)
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.Equal(t, "starting_after", r.errorField("param"))

	r = ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+sessionID, keyA, nil)
	require.Equal(t, http.StatusOK, r.Status, "the owner still sees it")
	require.Equal(t, "open", r.Body["status"], "B's expire did nothing")

	r = ts.call(t, http.MethodGet, "/v1/checkout/sessions/not-an-id", keyA, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
}

func TestSessionList(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	var ids []string
	for range 5 {
		r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody())
		require.Equal(t, http.StatusOK, r.Status)
		ids = append(ids, r.Body["id"].(string))
	}

	var seen []string
	cursor := ""
	for page := 0; ; page++ {
		r := ts.call(t, http.MethodGet, "/v1/checkout/sessions?limit=2&starting_after="+cursor, key, nil)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		require.Equal(t, "list", r.Body["object"])
		data := r.Body["data"].([]any)
		for _, d := range data {
			seen = append(seen, d.(map[string]any)["id"].(string))
		}
		if !r.Body["has_more"].(bool) {
			require.Equal(t, 2, page, "5 sessions in pages of 2")
			break
		}
		cursor = seen[len(seen)-1]
	}
	require.ElementsMatch(t, ids, seen)
	require.Len(t, seen, 5, "no session twice")

	r := ts.call(t, http.MethodGet, "/v1/checkout/sessions", key, nil)
	require.Len(t, r.Body["data"], 5, "default limit 10")

	for _, bad := range []string{"0", "101", "ten", "-1"} {
		r := ts.call(t, http.MethodGet, "/v1/checkout/sessions?limit="+bad, key, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, bad)
		require.Equal(t, "limit", r.errorField("param"))
	}
}

func TestSessionExpireEndpoint(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	open := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody()).Body["id"].(string)

	r := ts.call(t, http.MethodPost, "/v1/checkout/sessions/"+open+"/expire", key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "expired", r.Body["status"])
	require.Nil(t, r.Body["url"])
	r = ts.call(t, http.MethodPost, "/v1/checkout/sessions/"+open+"/expire", key, nil)
	require.Equal(t, http.StatusOK, r.Status, "expiring twice is harmless")

	var events int
	require.NoError(t, ts.Pool().QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'checkout.session.expired'`).Scan(&events))
	require.Equal(t, 1, events)

	paid := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody()).Body["id"].(string)
	card, err := checkout.ParseCard(checkout.TestCardVisa, "12/40", "123", time.Now())
	require.NoError(t, err)
	_, err = ts.Checkout.Pay(ctx, checkout.PayRequest{SessionID: paid, Card: card, CardholderName: "Jo", Email: "jo@shop.test"})
	require.NoError(t, err)
	r = ts.call(t, http.MethodPost, "/v1/checkout/sessions/"+paid+"/expire", key, nil)
	require.Equal(t, http.StatusConflict, r.Status)
	require.Equal(t, "session_complete", r.errorField("code"))
}

// The periodic River job expires sessions past expires_at and emits the event.
func TestExpiryJob(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ts := startServer(t, func(c *Config) { c.ExpiryInterval = time.Second })
	_, key := ts.newMerchant(t, "Acme")
	due := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody()).Body["id"].(string)
	fresh := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody()).Body["id"].(string)
	_, err := ts.Pool().Exec(ctx, `UPDATE checkout_sessions SET expires_at = now() - interval '1 second' WHERE id = $1`, due)
	require.NoError(t, err)

	waitFor(t, 15*time.Second, "the expiry job", func() bool {
		return ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+due, key, nil).Body["status"] == "expired"
	})
	require.Equal(t, "open", ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+fresh, key, nil).Body["status"])
	var body []byte
	require.NoError(t, ts.Pool().QueryRow(ctx, `SELECT body FROM events WHERE type = 'checkout.session.expired'`).Scan(&body))
	var ev struct {
		Data struct {
			Object struct{ ID, Status string }
		}
	}
	require.NoError(t, json.Unmarshal(body, &ev))
	require.Equal(t, due, ev.Data.Object.ID)
	require.Equal(t, "expired", ev.Data.Object.Status)
}

func TestIdempotency(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ts := startServer(t)
	merchantID, key := ts.newMerchant(t, "Acme")
	_, otherKey := ts.newMerchant(t, "Other")
	create := func(t *testing.T, k, idemKey string, body any) apiResponse {
		t.Helper()
		return ts.call(t, http.MethodPost, "/v1/checkout/sessions", k, body, "Idempotency-Key", idemKey)
	}
	count := func(t *testing.T) int {
		t.Helper()
		var n int
		require.NoError(t, ts.Pool().QueryRow(ctx, `SELECT count(*) FROM checkout_sessions`).Scan(&n))
		return n
	}

	t.Run("ReplaySameRequest", func(t *testing.T) {
		first := create(t, key, "replay-1", sessionBody())
		require.Equal(t, http.StatusOK, first.Status)
		require.Empty(t, first.Header.Get("Idempotent-Replayed"))
		again := create(t, key, "replay-1", sessionBody())
		require.Equal(t, http.StatusOK, again.Status)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.Equal(t, first.Body, again.Body)
	})

	t.Run("DifferentBodyRefused", func(t *testing.T) {
		require.Equal(t, http.StatusOK, create(t, key, "mismatch-1", sessionBody()).Status)
		body := sessionBody()
		body["currency"] = "eur"
		r := create(t, key, "mismatch-1", body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status)
		require.Equal(t, "idempotency_error", r.errorField("type"))
		r = ts.call(t, http.MethodPost, "/v1/checkout/sessions/cs_abc/expire", key, nil, "Idempotency-Key", "mismatch-1")
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "a key is bound to its path too")
	})

	t.Run("ErrorsAreReplayed", func(t *testing.T) {
		body := sessionBody()
		body["currency"] = "xyz"
		first := create(t, key, "error-1", body)
		require.Equal(t, http.StatusBadRequest, first.Status)
		again := create(t, key, "error-1", body)
		require.Equal(t, http.StatusBadRequest, again.Status)
		require.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		require.Equal(t, first.Body["error"], again.Body["error"])
	})

	t.Run("ScopedToMerchant", func(t *testing.T) {
		mine := create(t, key, "shared-1", sessionBody())
		theirs := create(t, otherKey, "shared-1", sessionBody())
		require.Equal(t, http.StatusOK, theirs.Status)
		require.Empty(t, theirs.Header.Get("Idempotent-Replayed"))
		require.NotEqual(t, mine.Body["id"], theirs.Body["id"])
	})

	t.Run("InFlightConflict", func(t *testing.T) {
		// A claim whose request is still running, as the first request's
		// process leaves it until its response is stored.
		raw, err := json.Marshal(sessionBody())
		require.NoError(t, err)
		hash := sha256.Sum256([]byte("POST /v1/checkout/sessions\n" + string(raw)))
		_, err = ts.Pool().Exec(ctx, `INSERT INTO idempotency_keys (merchant_id, key, request_hash, locked_until)
			VALUES ($1, 'inflight-1', $2, now() + interval '1 minute')`, merchantID, hash[:])
		require.NoError(t, err)
		r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, string(raw), "Idempotency-Key", "inflight-1")
		require.Equal(t, http.StatusConflict, r.Status, r.Raw)
		require.Equal(t, "idempotency_error", r.errorField("type"))

		// Once the claim is abandoned (its process died), the retry runs.
		_, err = ts.Pool().Exec(ctx, `UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = 'inflight-1'`)
		require.NoError(t, err)
		r = ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, string(raw), "Idempotency-Key", "inflight-1")
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
	})

	t.Run("ConcurrentRequestsCreateOnce", func(t *testing.T) {
		before := count(t)
		var wg sync.WaitGroup
		results := make(chan apiResponse, 8)
		for range 8 {
			wg.Go(func() { results <- create(t, key, "burst-1", sessionBody()) })
		}
		wg.Wait()
		close(results)
		ids := map[any]bool{}
		for r := range results {
			switch r.Status {
			case http.StatusOK:
				ids[r.Body["id"]] = true
			case http.StatusConflict:
				require.Equal(t, "idempotency_error", r.errorField("type"))
			default:
				t.Fatalf("unexpected %d: %s", r.Status, r.Raw)
			}
		}
		require.Len(t, ids, 1, "every success carries the one session")
		require.Equal(t, before+1, count(t))
	})

	t.Run("ExpiresAfter24Hours", func(t *testing.T) {
		require.Equal(t, http.StatusOK, create(t, key, "old-1", sessionBody()).Status)
		_, err := ts.Pool().Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old-1'`)
		require.NoError(t, err)
		body := sessionBody()
		body["currency"] = "gbp"
		r := create(t, key, "old-1", body)
		require.Equal(t, http.StatusOK, r.Status, "an expired key is free again")
		require.Equal(t, "gbp", r.Body["currency"])
	})

	t.Run("InvalidKey", func(t *testing.T) {
		r := create(t, key, strings.Repeat("k", 256), sessionBody())
		require.Equal(t, http.StatusBadRequest, r.Status)
		require.Equal(t, "idempotency_key_invalid", r.errorField("code"))
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.RateLimit = 3 })
	_, key := ts.newMerchant(t, "Busy")
	_, otherKey := ts.newMerchant(t, "Calm")

	limited := 0
	for range 10 {
		r := ts.call(t, http.MethodGet, "/v1/checkout/sessions", key, nil)
		if r.Status == http.StatusTooManyRequests {
			limited++
			require.Equal(t, "rate_limit_error", r.errorField("type"))
			require.Equal(t, "1", r.Header.Get("Retry-After"))
		} else {
			require.Equal(t, http.StatusOK, r.Status)
		}
	}
	require.GreaterOrEqual(t, limited, 6, "at most 3 requests per second get through (one window may straddle a second)")
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/v1/checkout/sessions", otherKey, nil).Status,
		"another merchant keeps its own allowance")
}

func TestRoutesAndOps(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")

	r := ts.call(t, http.MethodGet, "/v1/nothing-here", key, nil)
	require.Equal(t, http.StatusNotFound, r.Status)
	require.Equal(t, "resource_missing", r.errorField("code"))
	r = ts.call(t, http.MethodDelete, "/v1/checkout/sessions", key, nil)
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	require.Equal(t, "invalid_request_error", r.errorField("type"))
	require.NotEmpty(t, r.Header.Get("Request-Id"))

	r = ts.call(t, http.MethodGet, "/healthz", "", nil)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "ok", r.Body["status"])

	require.Equal(t, http.StatusOK, ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody()).Status)
	resp, err := http.Get(ts.URL() + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), `herald_checkout_sessions_total{event="created"} 1`)
	require.Contains(t, string(metrics), `herald_payments_total{outcome="succeeded"} 0`)
	require.Contains(t, string(metrics), "go_goroutines")
	require.Contains(t, string(metrics), "process_resident_memory_bytes")
}

func TestWorkerRoleServesNoAPI(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.Roles = []string{roleWorker} })
	_, key := ts.newMerchant(t, "Acme")
	// Not through call: a worker's 404 is no answer of the API's, so
	// api/openapi.yaml does not describe it.
	req, err := http.NewRequest(http.MethodGet, ts.URL()+"/v1/checkout/sessions", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	require.Equal(t, http.StatusNotFound, statusOf(t, req))
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/healthz", "", nil).Status)
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", []string{"launch"}, nil, `unknown command "launch"`},
		{"missing database", []string{"serve"}, nil, "DATABASE_URL is required"},
		{"bad env", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": "staging"}, `invalid HERALD_ENV "staging"`},
		{"bad addr", []string{"serve", "--addr", "8080"}, map[string]string{"DATABASE_URL": "postgres://x"}, `invalid HERALD_ADDR "8080"`},
		{"short secret", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_SECRET": "short"}, "invalid HERALD_SECRET: must be at least 32 characters"},
		{"production without secret", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": "production"}, "HERALD_SECRETS is required in production"},
		{"production by default", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x"}, "HERALD_SECRETS is required in production"},
		{"production over http", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": "production",
			"HERALD_SECRET": strings.Repeat("s", 32), "HERALD_PUBLIC_URL": "http://pay.example.com"}, "must be https in production"},
		{"public url with path", []string{"serve", "--public-url", "https://x.test/pay"}, map[string]string{"DATABASE_URL": "postgres://x"}, "invalid HERALD_PUBLIC_URL"},
		{"bad role", []string{"serve", "--roles", "api,web"}, map[string]string{"DATABASE_URL": "postgres://x"}, `unknown role "web"`},
		{"bad rate limit", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_RATE_LIMIT": "0"}, "invalid HERALD_RATE_LIMIT"},
		{"bad auth failure limit", []string{"serve", "--auth-failure-limit", "0"}, map[string]string{"DATABASE_URL": "postgres://x"}, "invalid HERALD_AUTH_FAILURE_LIMIT"},
		{"bad interval", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_EXPIRY_INTERVAL": "soon"}, "invalid HERALD_EXPIRY_INTERVAL"},
		{"private endpoints in production", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": "production",
			"HERALD_SECRET": strings.Repeat("s", 32), "HERALD_PUBLIC_URL": "https://pay.example.com", "HERALD_ALLOW_PRIVATE_ENDPOINTS": "10.0.0.0/8"},
			"must be empty in production"},
		{"bad allow list", []string{"serve", "--allow-private-endpoints", "10.0.0.0/33"}, map[string]string{"DATABASE_URL": "postgres://x"}, "invalid HERALD_ALLOW_PRIVATE_ENDPOINTS"},
		{"bad retry schedule", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x", "HERALD_RETRY_SCHEDULE": "5s,later"}, "invalid HERALD_RETRY_SCHEDULE"},
		{"bad delivery timeout", []string{"serve", "--delivery-timeout", "1ms"}, map[string]string{"DATABASE_URL": "postgres://x"}, "invalid HERALD_DELIVERY_TIMEOUT"},
		{"bad migrate flag", []string{"serve", "--migrate", "maybe"}, map[string]string{"DATABASE_URL": "postgres://x"}, "invalid HERALD_MIGRATE"},
		{"unknown flag", []string{"serve", "--colour", "red"}, map[string]string{"DATABASE_URL": "postgres://x"}, "flag provided but not defined: -colour"},
		{"merchant without name", []string{"merchant", "create"}, map[string]string{"DATABASE_URL": "postgres://x"}, "name must be"},
		{"merchant bad colour", []string{"merchant", "create", "--name", "A", "--accent-color", "blue"}, nil, "accent colour"},
		{"merchant without subcommand", []string{"merchant"}, nil, "usage: herald merchant create"},
		{"bad database url", []string{"migrate", "--database-url", "::nope"}, nil, "invalid DATABASE_URL"},
		{"migrate what", []string{"migrate", "sideways"}, map[string]string{"DATABASE_URL": "postgres://x"}, `unexpected argument "sideways"`},
		{"keys without action", []string{"merchant", "keys"}, nil, "usage: herald merchant keys list|roll|revoke"},
		{"keys unknown action", []string{"merchant", "keys", "burn"}, nil, `unknown keys command "burn"`},
		{"keys without merchant", []string{"merchant", "keys", "list"}, nil, "--merchant is required"},
		{"keys bad key id", []string{"merchant", "keys", "roll", "--merchant", "acct_1", "--key", "sk_test_oops"}, nil, `invalid --key "sk_test_oops"`},
		{"revoke without key", []string{"merchant", "keys", "revoke", "--merchant", "acct_1"}, nil, "--key is required"},
		{"keys bad overlap", []string{"merchant", "keys", "roll", "--merchant", "acct_1", "--overlap", "200h"}, nil, "invalid --overlap 200h0m0s: want 0 to 168h0m0s"},
		{"secrets without action", []string{"secrets"}, nil, "usage: herald secrets generate|rotate"},
		{"secrets bad id", []string{"secrets", "generate", "--id", "a.b"}, nil, `invalid key id "a.b"`},
		{"rotate without keys", []string{"secrets", "rotate"}, map[string]string{"DATABASE_URL": "postgres://x"}, "HERALD_SECRETS (or HERALD_SECRET) is required"},
		{"rotate bad batch", []string{"secrets", "rotate", "--batch", "0"}, nil, `invalid --batch "0"`},
		{"version with argument", []string{"version", "now"}, nil, `unexpected argument "now"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var stdout, stderr strings.Builder
			code := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &stdout, &stderr)
			require.Equal(t, exitUsage, code)
			require.Contains(t, stderr.String(), tt.want)
			if tt.args != nil {
				require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
				require.True(t, strings.HasPrefix(stderr.String(), "herald: "))
			}
		})
	}
}

func TestMerchantCreateCommand(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	var stdout, stderr strings.Builder
	env := map[string]string{"DATABASE_URL": ts.cfg.DatabaseURL}
	code := run(context.Background(), []string{"merchant", "create", "--name", "Book Nook", "--logo-url", "https://books.test/logo.png", "--json"},
		func(k string) string { return env[k] }, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	var out map[string]string
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &out))
	require.True(t, strings.HasPrefix(out["id"], "acct_"))
	require.True(t, strings.HasPrefix(out["secret_key"], "sk_test_"))

	r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", out["secret_key"], sessionBody())
	require.Equal(t, http.StatusOK, r.Status, "the printed key works")
}

// Every /v1 route the server registers is described in api/openapi.yaml,
// and the description has no operation the server lacks. (Each exchange
// the tests make is also checked against it: see do.)
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	var served []string
	routes, ok := ts.http.Handler.(chi.Routes)
	require.True(t, ok, "the server's handler is a chi router")
	require.NoError(t, chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/v1/") && method != http.MethodHead {
			served = append(served, method+" "+strings.TrimSuffix(route, "/"))
		}
		return nil
	}))
	described, err := apitest.Operations()
	require.NoError(t, err)
	slices.Sort(served)
	slices.Sort(described)
	require.NotEmpty(t, served)
	require.Equal(t, described, served, "api/openapi.yaml's operations (expected) against the server's /v1 routes (actual)")
}
