package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/apitest"
	"github.com/heraldpay/herald/internal/browsertest"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/internal/syncbuf"
)

// envExecMain makes the test binary behave as the herald command, so tests
// can run real herald processes (signals, exit codes) without a build step.
const envExecMain = "HERALD_TEST_EXEC_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envExecMain) == "1" {
		main()
		return
	}
	browsertest.Main(m)
}

// testServer is a real Herald on 127.0.0.1:0 with its own database.
type testServer struct {
	*Server
	logs *syncbuf.Buffer
}

func startServer(t *testing.T, mutate ...func(*Config)) *testServer {
	t.Helper()
	cfg := Config{
		DatabaseURL:     pgtest.NewDatabase(t),
		Addr:            "127.0.0.1:0",
		Env:             envDev,
		Roles:           []string{roleAPI, roleWorker},
		RateLimit:       1000,
		ExpiryInterval:  time.Minute,
		ShutdownTimeout: 10 * time.Second,
		// The sinks of the delivery tests listen on loopback.
		AllowPrivateEndpoints: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		DeliveryTimeout:       2 * time.Second,
		RetrySchedule:         delivery.DefaultSchedule,
		InflightPerEndpoint:   10,
		InflightPerMerchant:   100,
		SweepInterval:         time.Minute,
		BreakerOpenFor:        30 * time.Second,
		DisableEndpointAfter:  120 * time.Hour,
		DeliveryWorkers:       100,
		FetchCooldown:         10 * time.Millisecond,
		FetchPollInterval:     50 * time.Millisecond,
		RescueAfter:           time.Minute,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &syncbuf.Buffer{}
	ctx := context.Background()
	srv, err := NewServer(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(shutdownCtx))
	})
	return &testServer{Server: srv, logs: logs}
}

// logger writes to the same captured log as the server.
func (ts *testServer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(ts.logs, nil))
}

// newMerchant creates a merchant and returns its id and secret key.
func (ts *testServer) newMerchant(t *testing.T, name string) (string, string) {
	t.Helper()
	m, key := accounttest.NewMerchant(t, ts.Pool(), name)
	return m.ID, key
}

// apiResponse is a decoded JSON answer.
type apiResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// errorField returns body.error[field].
func (r apiResponse) errorField(field string) any {
	e, _ := r.Body["error"].(map[string]any)
	return e[field]
}

// call sends an API request. body may be a string (sent verbatim) or a
// value marshalled to JSON; headers are key, value pairs.
func (ts *testServer) call(t *testing.T, method, path, key string, body any, headers ...string) apiResponse {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.URL()+path, rd)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return ts.do(t, http.DefaultClient, req, key, body != nil)
}

// do sends req through c with key and, for a body, a JSON content type
// unless req has one, and decodes the answer. Every /v1 exchange is held
// to api/openapi.yaml (apitest.Check).
func (ts *testServer) do(t *testing.T, c *http.Client, req *http.Request, key string, jsonBody bool) apiResponse {
	t.Helper()
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if jsonBody && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	// Keep the request body as sent, to hold both to api/openapi.yaml.
	var sent []byte
	if req.Body != nil {
		var err error
		sent, err = io.ReadAll(req.Body)
		require.NoError(t, err)
		require.NoError(t, req.Body.Close())
		req.Body = io.NopCloser(bytes.NewReader(sent))
		req.ContentLength = int64(len(sent))
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	apitest.Check(t, apitest.Exchange{Request: req, RequestBody: sent, Response: resp, ResponseBody: raw})
	out := apiResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(raw, &out.Body), "body: %s", raw)
	}
	return out
}

// sessionBody is a valid create request; mutate it per test.
func sessionBody() map[string]any {
	return map[string]any{
		"line_items": []map[string]any{
			{"name": "Notebook", "unit_amount": 1500, "quantity": 2},
			{"name": "Pen", "unit_amount": 250, "quantity": 1},
		},
		"currency":    "usd",
		"success_url": "https://shop.test/success?session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":  "https://shop.test/cart",
	}
}

// waitFor is sinktest.WaitFor.
var waitFor = sinktest.WaitFor
