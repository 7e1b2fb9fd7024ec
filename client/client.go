package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of a Client made by New without options.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 2
	DefaultUserAgent  = "herald-go"
)

const (
	// maxRetryAfter bounds a server's Retry-After so one answer cannot park
	// a merchant's request handler for minutes.
	maxRetryAfter = 60 * time.Second
	// maxBackoff bounds the default backoff.
	maxBackoff = 10 * time.Second
	// maxErrorBody bounds what is read of an error answer: a proxy's HTML
	// page is of no use beyond its status.
	maxErrorBody = 64 << 10
	// idempotencyHeader is the request header Herald deduplicates POSTs on.
	idempotencyHeader = "Idempotency-Key"
)

// Client calls Herald's merchant API with one secret key. It is safe for
// concurrent use and holds no state between requests beyond its
// http.Client's connection pool, so make one per key and share it.
type Client struct {
	// Sessions creates, retrieves, lists and expires checkout sessions.
	Sessions *SessionService
	// Endpoints manages webhook endpoints and their signing secrets.
	Endpoints *EndpointService
	// Events retrieves and lists the events Herald raised.
	Events *EventService
	// Deliveries retrieves, lists and redrives deliveries of events to
	// endpoints, with their attempts.
	Deliveries *DeliveryService
	// Redrives sends many deliveries again at once, as a durable job.
	Redrives *RedriveService
	// APIKeys lists, rolls and revokes the merchant's API keys.
	APIKeys *APIKeyService
	// PortalSessions makes links to the merchant portal.
	PortalSessions *PortalSessionService

	baseURL    string
	secretKey  string
	httpClient *http.Client
	maxRetries int
	backoff    func(attempt int) time.Duration
	userAgent  string
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc, for a custom
// transport, proxy or timeout. nil keeps the default: an http.Client with a
// DefaultTimeout timeout per attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithMaxRetries sets how many times a failed request is retried (so at most
// n+1 attempts). 0 disables retries; negative values count as 0. Default
// DefaultMaxRetries.
func WithMaxRetries(n int) Option {
	return func(c *Client) { c.maxRetries = max(n, 0) }
}

// WithBackoff sets the wait before retry number attempt (1 before the first
// retry, 2 before the second, …) when the server sent no Retry-After. nil
// keeps the default: 500ms·2^(attempt-1) with ±20% jitter, at most 10s.
func WithBackoff(f func(attempt int) time.Duration) Option {
	return func(c *Client) {
		if f != nil {
			c.backoff = f
		}
	}
}

// WithUserAgent sets the User-Agent header, so Herald's logs can tell your
// integration apart. An empty string keeps DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// New returns a Client for the Herald API at baseURL (for example
// "https://api.herald.example" or "http://127.0.0.1:8080"; a trailing slash
// is ignored) that authenticates with secretKey (sk_test_… or sk_live_…).
// It does not contact the server: a bad baseURL or key shows up as the
// error of the first request.
func New(baseURL, secretKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		secretKey:  secretKey,
		httpClient: &http.Client{Timeout: DefaultTimeout},
		maxRetries: DefaultMaxRetries,
		backoff:    DefaultBackoff,
		userAgent:  DefaultUserAgent,
	}
	for _, opt := range opts {
		opt(c)
	}
	c.Sessions = &SessionService{c}
	c.Endpoints = &EndpointService{c}
	c.Events = &EventService{c}
	c.Deliveries = &DeliveryService{c}
	c.Redrives = &RedriveService{c}
	c.APIKeys = &APIKeyService{c}
	c.PortalSessions = &PortalSessionService{c}
	return c
}

// String describes the Client without its secret key, so logging a Client
// with %v cannot leak the key.
func (c *Client) String() string {
	return "client.Client(" + c.baseURL + ")"
}

// GoString is String for %#v, which would otherwise print every field.
func (c *Client) GoString() string { return c.String() }

// DefaultBackoff is the wait before retry number attempt when the server
// sent no Retry-After: 500ms·2^(attempt-1), ±20% jitter so that clients
// failing together do not retry together, at most 10s.
func DefaultBackoff(attempt int) time.Duration {
	return jittered(attempt, mathrand.Float64())
}

// jittered is DefaultBackoff with the random number r in [0, 1) given, so
// the bounds can be tested.
func jittered(attempt int, r float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > 6 { // 500ms·2^6 = 32s: past the cap whatever the jitter, and no overflow
		return maxBackoff
	}
	base := 500 * time.Millisecond << (attempt - 1)
	d := time.Duration(float64(base) * (0.8 + 0.4*r))
	return min(d, maxBackoff)
}

// RequestOption adjusts one request.
type RequestOption func(*requestConfig)

type requestConfig struct {
	idempotencyKey string
}

// WithIdempotencyKey sends key as the request's Idempotency-Key instead of
// a random one. Use a key derived from your own data (an order id) so that
// a create repeated after a crash of your process replays the first answer
// instead of creating a second object. Herald keeps keys for 24 hours; a
// key is at most 255 printable ASCII characters.
//
// On PATCH, which gets no automatic key, a key also makes the request
// eligible for retries. Herald deduplicates POSTs only; an update is safe to
// retry anyway because it sets fields to the values sent.
func WithIdempotencyKey(key string) RequestOption {
	return func(rc *requestConfig) { rc.idempotencyKey = key }
}

// newIdempotencyKey returns 32 random hex characters.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b[:])
}

// call is one API request, the same on every attempt.
type call struct {
	method         string
	path           string // escaped, from the root: /v1/…
	query          url.Values
	body           []byte // nil: no body
	idempotencyKey string
}

// retryable reports whether the request may be sent again without risk of
// acting twice: reads and deletes always; writes only under a key.
func (cl *call) retryable() bool {
	switch cl.method {
	case http.MethodGet, http.MethodDelete:
		return true
	}
	return cl.idempotencyKey != ""
}

// do sends the request described by the arguments, retrying as the
// package documentation says, and decodes a 2xx answer into out (unless
// out is nil). params, when not nil, is the JSON body.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, params, out any, opts []RequestOption) error {
	var rc requestConfig
	for _, opt := range opts {
		opt(&rc)
	}
	cl := &call{method: method, path: path, query: query, idempotencyKey: rc.idempotencyKey}
	if method == http.MethodPost && cl.idempotencyKey == "" {
		cl.idempotencyKey = newIdempotencyKey()
	}
	if params != nil {
		body, err := json.Marshal(params)
		if err != nil {
			return fmt.Errorf("herald: %s %s: encode parameters: %w", method, path, err)
		}
		cl.body = body
	}

	for attempt := 1; ; attempt++ {
		res := c.attempt(ctx, cl)
		if res.err == nil {
			return decode(cl, res.body, out)
		}
		if res.transport && ctx.Err() != nil {
			// The attempt failed because the caller gave up: say so rather
			// than blame the network, and do not retry.
			return fmt.Errorf("herald: %s %s: %w", method, path, ctx.Err())
		}
		if !cl.retryable() || !res.retryable || attempt > c.maxRetries {
			return res.final(cl, attempt)
		}
		wait := res.retryAfter
		if !res.hasRetryAfter {
			wait = c.backoff(attempt)
		}
		if err := sleep(ctx, wait); err != nil {
			return fmt.Errorf("herald: %s %s: waiting to retry: %w", method, path, err)
		}
	}
}

func decode(cl *call, body []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("herald: %s %s: decode response: %w", cl.method, cl.path, err)
	}
	return nil
}

// outcome is the result of one attempt.
type outcome struct {
	body []byte // a 2xx answer's body
	err  error  // nil on 2xx; an *Error for an API error; else a transport error
	// transport is set when err is not an answer from the server.
	transport bool
	// retryable is set when another attempt may succeed.
	retryable bool
	// retryAfter is the server's Retry-After, when hasRetryAfter is set.
	retryAfter    time.Duration
	hasRetryAfter bool
}

// final is the error to return for a failed last attempt: an *Error as is,
// so callers may type-assert it; a transport error wrapped with the request
// and the number of attempts.
func (o outcome) final(cl *call, attempts int) error {
	if !o.transport {
		return o.err
	}
	if attempts > 1 {
		return fmt.Errorf("herald: %s %s: %d attempts: %w", cl.method, cl.path, attempts, o.err)
	}
	return fmt.Errorf("herald: %s %s: %w", cl.method, cl.path, o.err)
}

// attempt sends cl once and reads the answer.
func (c *Client) attempt(ctx context.Context, cl *call) outcome {
	req, err := c.newRequest(ctx, cl)
	if err != nil {
		return outcome{err: err, transport: true}
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return outcome{err: err, transport: true, retryable: retryableTransportError(err)}
	}
	defer func() { _ = resp.Body.Close() }() // read in full or given up on: a failed close changes nothing

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			// The connection broke mid-answer: as retryable as a broken dial.
			return outcome{err: fmt.Errorf("read response: %w", err), transport: true, retryable: true}
		}
		return outcome{body: body}
	}
	// A truncated or unreadable error body still has its status, which is
	// what the error and the retry decision rest on.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	apiErr := c.newError(resp, body)
	res := outcome{err: apiErr, retryable: retryableAnswer(apiErr)}
	res.retryAfter, res.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return res
}

// newRequest builds one attempt of cl. Each attempt gets a fresh body
// reader over the same bytes and the same headers, idempotency key included,
// so Herald recognises a retry as the same request.
func (c *Client) newRequest(ctx context.Context, cl *call) (*http.Request, error) {
	target := c.baseURL + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Host == "" {
		return nil, fmt.Errorf("build request: base URL %q is not an absolute http or https URL", c.baseURL)
	}
	req.Header.Set("Authorization", "Bearer "+c.secretKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.idempotencyKey != "" {
		req.Header.Set(idempotencyHeader, cl.idempotencyKey)
	}
	return req, nil
}

// retryableAnswer reports whether an API error is worth another attempt:
// rate limits and server-side failures, which Herald does not store under
// an idempotency key, and a request whose first attempt Herald is still
// running (after a client timeout, the retry would otherwise fail with 409
// and the caller could not retry with a key it never saw).
func retryableAnswer(e *Error) bool {
	switch e.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		return e.Type == ErrorTypeIdempotency && e.Code == "idempotency_key_in_use"
	}
	return false
}

// retryableTransportError reports whether a failure to get an answer may
// be transient. Refused and reset connections, timeouts and connections
// closed mid-answer are; a certificate the client will never trust is not.
func retryableTransportError(err error) bool {
	var (
		verifyErr    *tls.CertificateVerificationError
		authorityErr x509.UnknownAuthorityError
		hostnameErr  x509.HostnameError
		invalidErr   x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &verifyErr), errors.As(err, &authorityErr), errors.As(err, &hostnameErr), errors.As(err, &invalidErr):
		return false
	}
	return true
}

// parseRetryAfter reads a Retry-After header, in seconds or as an HTTP
// date, relative to now. Past dates wait 0; waits are clamped to
// maxRetryAfter. ok is false when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) { // compare before multiplying: no overflow
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), maxRetryAfter), true
}

// sleep waits d, or returns ctx's error as soon as it is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// objectPath returns base/{id}/suffix with id escaped; an empty id is an
// error, because the request would silently address the collection.
func objectPath(base, kind, id, suffix string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("herald: %s id is empty", kind)
	}
	p := base + "/" + url.PathEscape(id)
	if suffix != "" {
		p += "/" + suffix
	}
	return p, nil
}
