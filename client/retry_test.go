package client

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	unavailable = answer{status: 503, body: apiError("api_error", "unavailable", "Try again.", "")}
	rateLimited = answer{status: 429, header: map[string]string{"Retry-After": "1"},
		body: apiError("rate_limit_error", "rate_limit", "Too many requests.", "")}
	badRequest = answer{status: 400, body: apiError("invalid_request_error", "parameter_missing", "currency is required", "currency")}
	inFlight   = answer{status: 409, body: apiError("idempotency_error", "idempotency_key_in_use", "Retry shortly.", "")}
	okSession  = answer{body: openSessionJSON}
)

func TestRetriedPOSTKeepsKeyAndBody(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, unavailable, unavailable, okSession)
	sess, err := f.client().Sessions.Create(testContext(t), CreateSessionParams{
		LineItems: []LineItemParams{{Name: "Pen", UnitAmount: 250, Quantity: 1}},
		Currency:  "usd", SuccessURL: "https://example.com/ok", CancelURL: "https://example.com/cart",
	})
	require.NoError(t, err)
	require.Equal(t, "cs_Wq3abc", sess.ID)

	reqs := f.received()
	require.Len(t, reqs, 3)
	key := reqs[0].header.Get("Idempotency-Key")
	require.Regexp(t, randomKey, key)
	for _, r := range reqs[1:] {
		require.Equal(t, key, r.header.Get("Idempotency-Key"), "a retry is the same request to Herald")
		require.Equal(t, reqs[0].body, r.body)
		require.Equal(t, http.MethodPost, r.method)
	}
}

func TestRetryDecisions(t *testing.T) {
	t.Parallel()

	patch := func(opts ...RequestOption) func(context.Context, *Client) error {
		return func(ctx context.Context, c *Client) error {
			_, err := c.Endpoints.Update(ctx, "we_7Kp", EndpointParams{Paused: Bool(true)}, opts...)
			return err
		}
	}
	get := func(ctx context.Context, c *Client) error { _, err := c.Sessions.Get(ctx, "cs_Wq3abc"); return err }
	create := func(ctx context.Context, c *Client) error {
		_, err := c.Endpoints.Create(ctx, EndpointParams{URL: String("https://example.com/wh"), EnabledEvents: []string{EventAll}})
		return err
	}
	for _, tt := range []struct {
		name     string
		answers  []answer
		opts     []Option
		call     func(context.Context, *Client) error
		requests int
		status   int // of the returned *Error; 0 for success
	}{
		{name: "GET 503 then 200", answers: []answer{unavailable, okSession}, call: get, requests: 2},
		{name: "GET 500, 502, 504 then 200", call: get, requests: 4, opts: []Option{WithMaxRetries(3)},
			answers: []answer{{status: 500}, {status: 502}, {status: 504}, okSession}},
		{name: "retries exhausted", answers: []answer{unavailable}, call: get, requests: 3, status: 503},
		{name: "three retries allowed", answers: []answer{unavailable}, call: get, requests: 4, status: 503,
			opts: []Option{WithMaxRetries(3)}},
		{name: "400 never retried", answers: []answer{badRequest, okSession}, call: get, requests: 1, status: 400},
		{name: "400 on POST never retried", answers: []answer{badRequest, okSession}, call: create, requests: 1, status: 400},
		{name: "404 never retried", answers: []answer{{status: 404, body: apiError("invalid_request_error", "resource_missing", "No such.", "")}, okSession},
			call: get, requests: 1, status: 404},
		{name: "POST with retries disabled", answers: []answer{unavailable, okSession}, call: create, requests: 1, status: 503,
			opts: []Option{WithMaxRetries(0)}},
		{name: "POST retried under its automatic key", answers: []answer{unavailable, okSession}, call: create, requests: 2},
		{name: "POST whose first attempt is still running", answers: []answer{inFlight, okSession}, call: create, requests: 2},
		{name: "other 409 never retried", call: create, requests: 1, status: 409,
			answers: []answer{{status: 409, body: apiError("invalid_request_error", "session_complete", "Complete.", "")}, okSession}},
		{name: "PATCH without a key not retried", answers: []answer{unavailable, okSession}, call: patch(), requests: 1, status: 503},
		{name: "PATCH with a key retried", answers: []answer{unavailable, okSession}, call: patch(WithIdempotencyKey("pause-1")), requests: 2},
		{name: "DELETE retried", answers: []answer{unavailable, {body: deletedEndpointJSON}}, requests: 2,
			call: func(ctx context.Context, c *Client) error { return c.Endpoints.Delete(ctx, "we_7Kp") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, tt.answers...)
			err := tt.call(testContext(t), f.client(tt.opts...))
			require.Len(t, f.received(), tt.requests)
			if tt.status == 0 {
				require.NoError(t, err)
				return
			}
			var apiErr *Error
			ok := errors.As(err, &apiErr)
			require.True(t, ok, "%T %v", err, err)
			require.Equal(t, tt.status, apiErr.StatusCode)
		})
	}
}

func TestRetriesExhaustedReturnLastError(t *testing.T) {
	t.Parallel()

	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", []string{"req_1", "req_2", "req_3"}[n.Add(1)-1])
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)

	_, err := New(srv.URL, testKey, WithBackoff(func(int) time.Duration { return 0 })).Sessions.Get(testContext(t), "cs_1")
	var apiErr *Error
	ok := errors.As(err, &apiErr)
	require.True(t, ok)
	require.Equal(t, &Error{StatusCode: 503, RequestID: "req_3",
		Message: "unexpected answer 503 Service Unavailable without an API error body"}, apiErr)
	require.Equal(t, int32(3), n.Load())
}

func TestBackoffAttemptNumbers(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, unavailable)
	var attempts []int
	c := New(f.URL, testKey, WithMaxRetries(3), WithBackoff(func(attempt int) time.Duration {
		attempts = append(attempts, attempt)
		return 0
	}))
	_, err := c.Sessions.Get(testContext(t), "cs_1")
	require.Error(t, err)
	require.Equal(t, []int{1, 2, 3}, attempts)
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, rateLimited, okSession)
	// The backoff would be instant: a wait of about a second can only come
	// from Retry-After.
	start := time.Now()
	_, err := f.client().Sessions.Create(testContext(t), CreateSessionParams{Currency: "usd"})
	elapsed := time.Since(start)
	require.NoError(t, err)
	require.Len(t, f.received(), 2)
	require.GreaterOrEqual(t, elapsed, 950*time.Millisecond)
	require.Less(t, elapsed, 3*time.Second)
}

func TestCancelDuringBackoff(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		ans  answer
		want error
		ctx  func(context.Context) (context.Context, context.CancelFunc)
	}{
		{
			name: "cancelled during the backoff", ans: unavailable, want: context.Canceled,
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(parent)
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
		},
		{
			name: "deadline during Retry-After", ans: answer{status: 429, header: map[string]string{"Retry-After": "30"}},
			want: context.DeadlineExceeded,
			ctx: func(parent context.Context) (context.Context, context.CancelFunc) {
				return context.WithTimeout(parent, 100*time.Millisecond)
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, tt.ans)
			ctx, cancel := tt.ctx(testContext(t))
			defer cancel()
			c := New(f.URL, testKey, WithBackoff(func(int) time.Duration { return time.Hour }))

			start := time.Now()
			_, err := c.Sessions.Get(ctx, "cs_1")
			require.ErrorIs(t, err, tt.want)
			require.Less(t, time.Since(start), 2*time.Second, "the wait ends with the context")
			require.Len(t, f.received(), 1)
		})
	}
}

func TestCancelledContextIsNotRetried(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, answer{delay: time.Minute})
	ctx, cancel := context.WithTimeout(testContext(t), 100*time.Millisecond)
	defer cancel()
	_, err := f.client().Sessions.Get(ctx, "cs_1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Len(t, f.received(), 1)
}

func TestNetworkErrors(t *testing.T) {
	t.Parallel()

	t.Run("connection refused: retried, then returned wrapped", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close() // nothing listens on its address any more
		var retries atomic.Int32
		c := New(srv.URL, testKey, WithBackoff(func(int) time.Duration { retries.Add(1); return time.Millisecond }))

		_, err := c.Sessions.Get(testContext(t), "cs_1")
		require.ErrorIs(t, err, syscall.ECONNREFUSED)
		var opErr *net.OpError
		require.ErrorAs(t, err, &opErr)
		var apiErr *Error
		require.False(t, errors.As(err, &apiErr))
		require.Equal(t, int32(2), retries.Load(), "%v", err)
		require.ErrorContains(t, err, "herald: GET /v1/checkout/sessions/cs_1: 3 attempts:")
		require.NotContains(t, err.Error(), testKey)
	})
	t.Run("connection closed without an answer: POST retried under one key", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{hangup: true})
		_, err := f.client().Sessions.Expire(testContext(t), "cs_1")
		require.Error(t, err)
		var apiErr *Error
		require.False(t, errors.As(err, &apiErr))
		reqs := f.received()
		require.Len(t, reqs, 3)
		for _, r := range reqs {
			require.Equal(t, reqs[0].header.Get("Idempotency-Key"), r.header.Get("Idempotency-Key"))
		}
	})
	t.Run("one hang-up, then an answer", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{hangup: true}, okSession)
		_, err := f.client().Sessions.Get(testContext(t), "cs_Wq3abc")
		require.NoError(t, err)
		require.Len(t, f.received(), 2)
	})
	t.Run("client timeout: retried", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{delay: time.Minute}, okSession)
		c := f.client(WithHTTPClient(&http.Client{Timeout: 100 * time.Millisecond}))
		_, err := c.Sessions.Get(testContext(t), "cs_Wq3abc")
		require.NoError(t, err)
		require.Len(t, f.received(), 2)
	})
	t.Run("untrusted certificate: not retried", func(t *testing.T) {
		t.Parallel()

		srv := httptest.NewUnstartedServer(http.NotFoundHandler())
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
		srv.StartTLS()
		t.Cleanup(srv.Close)
		var retries atomic.Int32
		c := New(srv.URL, testKey, WithBackoff(func(int) time.Duration { retries.Add(1); return 0 }))
		_, err := c.Sessions.Get(testContext(t), "cs_1")
		require.Error(t, err)
		require.Zero(t, retries.Load())
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name  string
		value string
		want  time.Duration
		ok    bool
	}{
		{"seconds", "1", time.Second, true},
		{"zero", "0", 0, true},
		{"spaces", " 7 ", 7 * time.Second, true},
		{"clamped", "120", time.Minute, true},
		{"overflowing", "9223372036854775807", time.Minute, true},
		{"http date", now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{"http date far away", now.Add(time.Hour).Format(http.TimeFormat), time.Minute, true},
		{"http date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"negative", "-3", 0, false},
		{"garbage", "soon", 0, false},
		{"absent", "", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, ok := parseRetryAfter(tt.value, now)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		attempt  int
		low, mid time.Duration
		high     time.Duration
	}{
		{0, 400 * time.Millisecond, 500 * time.Millisecond, 600 * time.Millisecond},
		{1, 400 * time.Millisecond, 500 * time.Millisecond, 600 * time.Millisecond},
		{2, 800 * time.Millisecond, time.Second, 1200 * time.Millisecond},
		{3, 1600 * time.Millisecond, 2 * time.Second, 2400 * time.Millisecond},
		{5, 6400 * time.Millisecond, 8 * time.Second, 9600 * time.Millisecond},
		{6, 10 * time.Second, 10 * time.Second, 10 * time.Second},
		{7, 10 * time.Second, 10 * time.Second, 10 * time.Second},
		{1000, 10 * time.Second, 10 * time.Second, 10 * time.Second},
	} {
		t.Run(time.Duration(tt.attempt).String(), func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.low, jittered(tt.attempt, 0), "-20%")
			require.Equal(t, tt.mid, jittered(tt.attempt, 0.5))
			require.InDelta(t, float64(tt.high), float64(jittered(tt.attempt, 0.9999999)), float64(time.Millisecond), "+20%")
			for range 100 {
				d := DefaultBackoff(tt.attempt)
				require.GreaterOrEqual(t, d, tt.low)
				require.LessOrEqual(t, d, tt.high)
			}
		})
	}
}
