package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every route of the merchant API, sent control characters, invalid UTF-8
// and malformed queries in every place a client controls: a query
// parameter is answered 400 naming it, a body parameter 400 naming it in
// bracket notation, a path id 404 like any unknown id. Nothing answers 500,
// nothing is written, and the server logs no internal error.
func TestHostileAPIInput(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	sessionID := f.pay(t)
	endpoint := "/v1/webhook_endpoints/" + f.endpointID()
	var before tableCounts
	before.read(t, f.ts)

	const (
		badRequest = http.StatusBadRequest
		notFound   = http.StatusNotFound
		noParam    = "-"
		control    = "control characters"
	)
	validSession := `"line_items":[{"name":"Pen","unit_amount":250,"quantity":1}],"currency":"usd","success_url":"https://shop.test/ok","cancel_url":"https://shop.test/cart"`
	for _, tt := range []struct {
		name   string
		method string
		path   string // raw: escapes are sent as written
		body   string
		status int
		code   string
		param  string // noParam: the error names none
		msg    string // part of the message
	}{
		// Query parameters, on every list.
		{"deliveries endpoint_id NUL", "GET", "/v1/deliveries?endpoint_id=%00", "", badRequest, "parameter_invalid", "endpoint_id", control},
		{"deliveries status NUL", "GET", "/v1/deliveries?status=%00", "", badRequest, "parameter_invalid", "status", control},
		{"deliveries event_id C1", "GET", "/v1/deliveries?event_id=evt_%C2%85", "", badRequest, "parameter_invalid", "event_id", control},
		{"deliveries starting_after NUL", "GET", "/v1/deliveries?starting_after=%00", "", badRequest, "parameter_invalid", "starting_after", control},
		{"events type NUL", "GET", "/v1/events?type=%00", "", badRequest, "parameter_invalid", "type", control},
		{"events starting_after newline", "GET", "/v1/events?starting_after=evt_1%0A", "", badRequest, "parameter_invalid", "starting_after", control},
		{"sessions starting_after NUL", "GET", "/v1/checkout/sessions?starting_after=%00", "", badRequest, "parameter_invalid", "starting_after", control},
		{"sessions limit NUL", "GET", "/v1/checkout/sessions?limit=1%00", "", badRequest, "parameter_invalid", "limit", control},
		{"endpoints starting_after invalid UTF-8", "GET", "/v1/webhook_endpoints?starting_after=we_%FF", "", badRequest, "parameter_invalid", "starting_after", "invalid UTF-8"},
		{"query name NUL", "GET", "/v1/checkout/sessions?li%00mit=1", "", badRequest, "parameter_invalid", noParam, "query parameter name"},
		{"query with a semicolon", "GET", "/v1/events?limit=1;type=x", "", badRequest, "parameter_invalid", noParam, "malformed"},
		{"query with a bad escape", "GET", "/v1/events?type=%zz", "", badRequest, "parameter_invalid", noParam, "malformed"},
		{"NUL in a POST's query", "POST", "/v1/checkout/sessions?x=%00", "{" + validSession + "}", badRequest, "parameter_invalid", "x", control},
		// Path ids: no such object.
		{"session id NUL", "GET", "/v1/checkout/sessions/cs_%00", "", notFound, "resource_missing", noParam, "No such checkout session"},
		{"session id invalid UTF-8", "GET", "/v1/checkout/sessions/%FF%FE", "", notFound, "resource_missing", noParam, "No such checkout session"},
		{"session id escaped slash", "GET", "/v1/checkout/sessions/cs_a%2Fb", "", notFound, "resource_missing", noParam, ""},
		{"session id very long", "GET", "/v1/checkout/sessions/cs_" + strings.Repeat("A", 4000), "", notFound, "resource_missing", noParam, ""},
		{"expire id NUL", "POST", "/v1/checkout/sessions/cs_%00/expire", "", notFound, "resource_missing", noParam, ""},
		{"endpoint id NUL", "GET", "/v1/webhook_endpoints/we_%00", "", notFound, "resource_missing", noParam, "No such object"},
		{"endpoint patch id C1", "PATCH", "/v1/webhook_endpoints/we_%C2%85", `{"paused":true}`, notFound, "resource_missing", noParam, ""},
		{"endpoint delete id NUL", "DELETE", "/v1/webhook_endpoints/we_%00", "", notFound, "resource_missing", noParam, ""},
		{"roll secret id NUL", "POST", "/v1/webhook_endpoints/we_%00/roll_secret", "", notFound, "resource_missing", noParam, ""},
		{"event id newline", "GET", "/v1/events/evt_%0A", "", notFound, "resource_missing", noParam, ""},
		{"delivery id NUL", "GET", "/v1/deliveries/dlv_%00", "", notFound, "resource_missing", noParam, ""},
		{"delivery redrive id NUL", "POST", "/v1/deliveries/dlv_%00/redrive", "", notFound, "resource_missing", noParam, ""},
		{"redrive id NUL", "GET", "/v1/redrives/rdr_%00", "", notFound, "resource_missing", noParam, ""},
		{"redrive cancel id DEL", "POST", "/v1/redrives/rdr_%7F/cancel", "", notFound, "resource_missing", noParam, ""},
		// Bodies.
		{"redrive event_type NUL", "POST", "/v1/redrives", `{"event_type":"\u0000"}`, badRequest, "parameter_invalid", "event_type", control},
		{"redrive endpoint_id NUL", "POST", "/v1/redrives", `{"endpoint_id":"we_\u0000","dry_run":true}`, badRequest, "parameter_invalid", "endpoint_id", control},
		{"redrive status C1", "POST", "/v1/redrives", `{"status":"failed\u0085"}`, badRequest, "parameter_invalid", "status", control},
		{"endpoint description NUL", "POST", "/v1/webhook_endpoints",
			`{"url":"https://hooks.shop.test/h","enabled_events":["*"],"description":"a\u0000b"}`, badRequest, "parameter_invalid", "description", control},
		{"endpoint url C1", "POST", "/v1/webhook_endpoints",
			`{"url":"https://hooks.shop.test/\u0085","enabled_events":["*"]}`, badRequest, "parameter_invalid", "url", control},
		{"endpoint enabled_events NUL", "POST", "/v1/webhook_endpoints",
			`{"url":"https://hooks.shop.test/h","enabled_events":["*","\u0000"]}`, badRequest, "parameter_invalid", "enabled_events[1]", control},
		{"endpoint patch description ESC", "PATCH", endpoint, `{"description":"\u001b[31mred"}`, badRequest, "parameter_invalid", "description", control},
		{"session metadata value NUL", "POST", "/v1/checkout/sessions", `{` + validSession + `,"metadata":{"note":"a\u0000"}}`,
			badRequest, "parameter_invalid", "metadata[note]", control},
		{"session metadata key NUL", "POST", "/v1/checkout/sessions", `{` + validSession + `,"metadata":{"no\u0000te":"a"}}`,
			badRequest, "parameter_invalid", "metadata", control},
		{"session line item name BEL", "POST", "/v1/checkout/sessions",
			`{"line_items":[{"name":"Pen\u0007","unit_amount":250,"quantity":1}],"currency":"usd","success_url":"https://shop.test/ok","cancel_url":"https://shop.test/cart"}`,
			badRequest, "parameter_invalid", "line_items[0][name]", control},
		{"session description-like field name NUL", "POST", "/v1/checkout/sessions", `{` + validSession + `,"curr\u0000ency":"usd"}`,
			badRequest, "parameter_invalid", noParam, control},
		{"session customer_email NUL", "POST", "/v1/checkout/sessions", `{` + validSession + `,"customer_email":"jo@shop.test\u0000"}`,
			badRequest, "parameter_invalid", "customer_email", control},
		{"session client_reference_id DEL", "POST", "/v1/checkout/sessions", `{` + validSession + `,"client_reference_id":"order\u007f"}`,
			badRequest, "parameter_invalid", "client_reference_id", control},
		{"session image_url host with a semicolon", "POST", "/v1/checkout/sessions",
			`{"line_items":[{"name":"Pen","unit_amount":250,"quantity":1,"image_url":"https://cdn.shop.test;script-src/pen.png"}],"currency":"usd","success_url":"https://shop.test/ok","cancel_url":"https://shop.test/cart"}`,
			badRequest, "url_invalid", "line_items[0][image_url]", "host"},
		{"session success_url host with a comma", "POST", "/v1/checkout/sessions",
			`{"line_items":[{"name":"Pen","unit_amount":250,"quantity":1}],"currency":"usd","success_url":"https://shop.test,evil.test/ok","cancel_url":"https://shop.test/cart"}`,
			badRequest, "url_invalid", "success_url", "host"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			r := f.ts.rawCall(t, tt.method, tt.path, f.key, tt.body)
			require.Equal(t, tt.status, r.Status, r.Raw)
			require.Equal(t, "invalid_request_error", r.errorField("type"), r.Raw)
			require.Equal(t, tt.code, r.errorField("code"), r.Raw)
			if tt.param == noParam {
				require.Nil(t, r.errorField("param"), r.Raw)
			} else {
				require.Equal(t, tt.param, r.errorField("param"), r.Raw)
			}
			require.Contains(t, r.errorField("message"), tt.msg)
		})
	}

	t.Cleanup(func() {
		var after tableCounts
		after.read(t, f.ts)
		require.Equal(t, before, after, "no hostile request wrote anything")
		require.NotContains(t, f.ts.logs.String(), "internal error")
		require.Equal(t, "complete", f.ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+sessionID, f.key, nil).Body["status"])
	})
}

// tableCounts are the rows of the tables a merchant API request can write.
type tableCounts struct {
	sessions, endpoints, redrives, events, deliveries int
}

func (c *tableCounts) read(t *testing.T, ts *testServer) {
	t.Helper()
	require.NoError(t, ts.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM checkout_sessions), (SELECT count(*) FROM webhook_endpoints),
		(SELECT count(*) FROM redrives), (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries)`).
		Scan(&c.sessions, &c.endpoints, &c.redrives, &c.events, &c.deliveries))
}

// rawCall is call with the path sent exactly as written (escapes
// included) and a body sent verbatim as JSON.
func (ts *testServer) rawCall(t *testing.T, method, path, key, body string) apiResponse {
	t.Helper()
	u, err := url.Parse(ts.URL())
	require.NoError(t, err)
	rawPath, rawQuery, _ := strings.Cut(path, "?")
	u.Opaque = "//" + u.Host + rawPath
	u.RawQuery = rawQuery
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "", rd)
	require.NoError(t, err)
	req.URL = u
	return ts.do(t, http.DefaultClient, req, key, body != "")
}

// The hosted form with control characters in each field: the page comes
// back with that field's inline error, nothing is charged and the session
// stays open. Ids that cannot exist get the not-found page, whatever their
// bytes.
func TestHostilePaymentForm(t *testing.T) {
	t.Parallel()

	f := newCheckout(t)
	c := formClient(t)
	token := openForm(t, c, f.payURL)
	for _, tt := range []struct{ field, value string }{
		{"cardholder_name", "Jo\x00Example"},
		{"cardholder_name", "Jo \u0085Example"},
		{"cardholder_name", "Jo\x1b[2JExample"},
		{"email", "jo@example.com\x00"},
		{"email", "jo\u0080@example.com"},
		{"card_number", "4242 4242 4242 4242\x00"},
		{"card_expiry", "12/3\x004"},
		{"card_cvc", "12\x003"},
	} {
		t.Run(fmt.Sprintf("%s %q", tt.field, tt.value), func(t *testing.T) {
			form := payForm(token, "4242424242424242")
			form.Set(tt.field, tt.value)
			resp, body := postForm(t, c, f.payURL, form)
			require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
			require.Contains(t, body, `role="alert"`)
			require.Contains(t, body, `id="`+tt.field+`-error"`, "the error is on the field")
			require.Equal(t, 1, strings.Count(body, `class="field-error"`), "and on that field only")
			require.False(t, strings.ContainsFunc(body, func(r rune) bool { return r < 0x20 && r != '\n' || r >= 0x7f && r <= 0x9f }),
				"no control character is put back into the page")
		})
	}
	require.Zero(t, f.charges(t), "nothing was charged")
	require.Equal(t, "open", f.session(t)["status"])

	for _, path := range []string{
		"/pay/cs_%00", "/pay/%FF%FE", "/pay/cs_%0A", "/pay/cs_%C2%85", "/pay/cs_a%2F..%2F..", "/pay/" + strings.Repeat("A", 4000),
		"/pay/cs_%00/3ds", "/pay/%FF/3ds",
	} {
		t.Run(path[:min(len(path), 30)], func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
				var resp *http.Response
				var body string
				if method == http.MethodPost {
					resp, body = postForm(t, c, f.ts.URL()+path, payForm(token, "4242424242424242"))
				} else {
					req, err := http.NewRequest(method, f.ts.URL()+path, nil)
					require.NoError(t, err)
					resp, err = c.Do(req)
					require.NoError(t, err)
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					require.NoError(t, err)
					body = string(b)
				}
				require.Equal(t, http.StatusNotFound, resp.StatusCode, method)
				if method != http.MethodHead {
					require.Contains(t, body, "Checkout not found", method)
				}
			}
		})
	}
	require.Zero(t, f.charges(t))
	require.NotContains(t, f.ts.logs.String(), "level=ERROR")
}

// HEAD answers like GET, without a body, on every GET route: the hosted
// pages and their stylesheet, the merchant API, /healthz and /metrics.
func TestHEADAnswersLikeGET(t *testing.T) {
	t.Parallel()

	f := newCheckout(t)
	for _, tt := range []struct {
		path   string
		key    string
		status int
	}{
		{"/pay/" + f.sessionID, "", http.StatusOK},
		{"/pay/" + f.sessionID + "/3ds", "", http.StatusSeeOther},
		{"/pay/cs_unknown", "", http.StatusNotFound},
		{"/assets/pay/checkout.css", "", http.StatusOK},
		{"/healthz", "", http.StatusOK},
		{"/metrics", "", http.StatusOK},
		{"/v1/checkout/sessions/" + f.sessionID, f.key, http.StatusOK},
		{"/v1/checkout/sessions?limit=1", f.key, http.StatusOK},
		{"/v1/events", f.key, http.StatusOK},
		{"/v1/webhook_endpoints", f.key, http.StatusOK},
		{"/v1/deliveries", f.key, http.StatusOK},
		{"/v1/checkout/sessions/cs_unknown", f.key, http.StatusNotFound},
		{"/v1/checkout/sessions", "", http.StatusUnauthorized},
		{"/dashboard", "", http.StatusNotFound}, // off without a password: a page saying so
	} {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()

			send := func(method string) (*http.Response, []byte) {
				req, err := http.NewRequest(method, f.ts.URL()+tt.path, nil)
				require.NoError(t, err)
				if tt.key != "" {
					req.Header.Set("Authorization", "Bearer "+tt.key)
				}
				resp, err := formClient(t).Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return resp, body
			}
			get, getBody := send(http.MethodGet)
			head, headBody := send(http.MethodHead)
			require.Equal(t, tt.status, get.StatusCode)
			require.Equal(t, get.StatusCode, head.StatusCode)
			require.Empty(t, headBody)
			if tt.status != http.StatusSeeOther {
				require.NotEmpty(t, getBody)
			}
			for _, h := range []string{"Content-Type", "Content-Security-Policy", "X-Frame-Options", "Cache-Control", "Location"} {
				require.Equal(t, get.Header.Get(h) != "", head.Header.Get(h) != "", "%s on HEAD as on GET", h)
			}
			require.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"))
		})
	}

	t.Run("POST-only routes stay POST-only", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/v1/redrives", "/v1/checkout/sessions/" + f.sessionID + "/expire"} {
			req, err := http.NewRequest(http.MethodHead, f.ts.URL()+path, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+f.key)
			require.Equal(t, http.StatusMethodNotAllowed, statusOf(t, req), path)
		}
		require.Equal(t, "open", f.session(t)["status"], "HEAD expired nothing")
	})
}

// clientFrom returns an HTTP client whose connections come from the local
// address ip: on Linux all of 127.0.0.0/8 is loopback, so tests can be
// several clients to Herald.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	transport := &http.Transport{DialContext: dialer.DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport}
}

// After AuthFailureLimit requests with a missing or invalid key from one
// address, every request from it is refused with 429 until the minute ends,
// a valid key included (so the key is not even looked up); another address,
// and its merchants, carry on as before.
func TestAuthFailuresLimitedPerAddress(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.AuthFailureLimit = 3 })
	_, key := ts.newMerchant(t, "Acme")
	_, otherKey := ts.newMerchant(t, "Calm")
	attacker, neighbour := clientFrom(t, "127.0.0.3"), clientFrom(t, "127.0.0.4")
	call := func(c *http.Client, key string) apiResponse {
		req, err := http.NewRequest(http.MethodGet, ts.URL()+"/v1/checkout/sessions", nil)
		require.NoError(t, err)
		return ts.do(t, c, req, key, false)
	}

	require.Equal(t, http.StatusOK, call(attacker, key).Status)
	for _, k := range []string{key + "x", "", "sk_test_guess"} {
		r := call(attacker, k)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		require.Equal(t, "authentication_error", r.errorField("type"))
	}
	for _, k := range []string{"sk_test_guess", key, otherKey, ""} {
		r := call(attacker, k)
		require.Equal(t, http.StatusTooManyRequests, r.Status, r.Raw)
		require.Equal(t, "rate_limit_error", r.errorField("type"))
		require.Equal(t, "auth_rate_limit", r.errorField("code"))
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.True(t, wait >= 1 && wait <= 60, "Retry-After %d", wait)
	}

	require.Equal(t, http.StatusOK, call(neighbour, key).Status, "another address is unaffected")
	require.Equal(t, http.StatusOK, call(neighbour, otherKey).Status)
	require.Equal(t, http.StatusUnauthorized, call(neighbour, "sk_test_guess").Status, "and gets a plain 401")
	resp, err := attacker.Get(ts.URL() + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the limit is the merchant API's only")
}
