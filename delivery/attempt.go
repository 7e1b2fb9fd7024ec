package delivery

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrorClass says why an attempt did not get a 2xx, in a word fit for a
// metric label and for the attempt log.
type ErrorClass string

// Error classes. ClassNone means the endpoint answered; whether that answer
// was a success is then a matter of its status code.
const (
	ClassNone              ErrorClass = ""
	ClassHTTPStatus        ErrorClass = "http_status" // answered, but not 2xx (3xx included: redirects are never followed)
	ClassTimeout           ErrorClass = "timeout"
	ClassConnectionRefused ErrorClass = "connection_refused"
	ClassDNS               ErrorClass = "dns"
	ClassTLS               ErrorClass = "tls"
	ClassSSRFBlocked       ErrorClass = "ssrf_blocked"
	ClassConnection        ErrorClass = "connection_error" // reset, closed, unreachable, malformed response…
)

// ErrSSRFBlocked is wrapped by dial errors for addresses the SSRF guard
// refuses (loopback, private, link-local, metadata…).
var ErrSSRFBlocked = errors.New("destination address is not allowed")

// AttemptError is a failed attempt's cause with its class.
type AttemptError struct {
	Class ErrorClass
	// Err is the cause. Its message is what the attempt log stores and
	// merchants read: the Sender words it from the class and the endpoint's
	// host name only, never from resolved addresses or the peer's text.
	Err error
}

// Error implements error: the cause's message, which the attempt log
// stores beside the class.
func (e *AttemptError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *AttemptError) Unwrap() error { return e.Err }

// MaxResponseBody is how much of an endpoint's answer is kept in the
// attempt log; the rest is neither read nor stored.
const MaxResponseBody = 4 << 10

// SendRequest is one signed POST of an event to an endpoint.
type SendRequest struct {
	URL string
	// MsgID is the webhook-id header: the event id, stable across retries.
	MsgID string
	Body  []byte
	// Secrets sign the request: one signature per secret (two during a
	// secret roll). Raw key bytes, not the whsec_ form.
	Secrets [][]byte
	// Timestamp is the webhook-timestamp of this attempt.
	Timestamp time.Time
}

// AttemptResult is what happened to one attempt.
type AttemptResult struct {
	// StatusCode is 0 when no response arrived.
	StatusCode int
	// Header holds the response headers (nil without a response).
	Header http.Header
	// Body is the first MaxResponseBody bytes of the response.
	Body []byte
	// RequestHeader holds the headers Herald sent (webhook-id, -timestamp,
	// -signature, content type, user agent).
	RequestHeader http.Header
	// Duration runs from the start of the request to the end of reading the
	// kept part of the body.
	Duration time.Duration
	// Err is nil for any HTTP answer (even a 500) and an *AttemptError when
	// there was none.
	Err *AttemptError
}

// Succeeded reports whether the endpoint answered 2xx.
func (r AttemptResult) Succeeded() bool {
	return r.Err == nil && r.StatusCode >= 200 && r.StatusCode < 300
}

// Class returns the error class, ClassHTTPStatus for a non-2xx answer, or
// ClassNone for a success.
func (r AttemptResult) Class() ErrorClass {
	switch {
	case r.Err != nil:
		return r.Err.Class
	case r.Succeeded():
		return ClassNone
	}
	return ClassHTTPStatus
}

// Sender delivers one signed request. It never returns an error: every
// failure is described in the AttemptResult.
type Sender interface {
	Send(ctx context.Context, req SendRequest) AttemptResult
}

// EndpointDown reports whether an attempt's result says the endpoint itself
// is down or overloaded, rather than refusing this one message. Only such
// results count against the endpoint's circuit breaker: no answer at all
// (refused, timeout, DNS, TLS, reset, a blocked address), 502, 503 and 504
// (a proxy in front of a dead server), and 429 (asked to back off). Any
// other answer, a 500 included, proves the endpoint is up: an endpoint that
// rejects a few poison messages keeps getting the others at once, while
// those messages follow their own retry schedule.
func EndpointDown(res AttemptResult) bool {
	if res.Err != nil {
		return true
	}
	switch res.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}
