package deliverynet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

var _ delivery.Sender = (*Sender)(nil)

// Sender POSTs signed events to merchant endpoints through an SSRF-guarded,
// proxy-free HTTP client that never follows redirects. It is safe for
// concurrent use and keeps connections alive between attempts.
type Sender struct {
	client    *http.Client
	transport *http.Transport
	timeout   time.Duration
	userAgent string
}

// NewSender returns a Sender configured by cfg. It panics if cfg.Guard is
// nil or cfg.WrapTransport returns nil: both are wiring bugs that would
// otherwise send webhooks unguarded.
func NewSender(cfg Config) *Sender {
	if cfg.Guard == nil {
		panic("deliverynet: NewSender needs a Guard")
	}
	cfg = cfg.withDefaults()
	transport := newTransport(cfg)
	var rt http.RoundTripper = transport
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(transport)
		if rt == nil {
			panic("deliverynet: Config.WrapTransport returned nil")
		}
	}
	return &Sender{
		client: &http.Client{
			Transport: rt,
			// A redirect is the endpoint's answer, recorded with its 3xx
			// status: following it would let an endpoint send Herald (and
			// the signed payload) somewhere the merchant never registered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		transport: transport,
		timeout:   cfg.Timeout,
		userAgent: cfg.UserAgent,
	}
}

// Close closes the idle kept-alive connections. It does not interrupt
// attempts in flight, and the Sender stays usable afterwards.
func (s *Sender) Close() {
	s.transport.CloseIdleConnections()
}

// Send makes one attempt: it POSTs req.Body to req.URL, signed with each of
// req.Secrets, and describes what happened. It never fails: a missing
// answer is an AttemptResult.Err with its class (see Classify); any HTTP
// answer, even a 500 or a 302, has a nil Err.
//
// The attempt is bounded by the Sender's timeout and by ctx. An attempt
// ended by either before an answer arrived is classified ClassTimeout, a
// cancellation by the caller included: the endpoint did not answer within
// the time Herald was prepared to wait, and no other class is more true.
//
// Once the status line and headers have arrived, the attempt has its
// answer. Reading the kept body (at most delivery.MaxResponseBody bytes) is
// best effort: if the timeout or a reset cuts it short, the bytes that
// arrived are kept and the status still counts, with no error, so a 200
// whose body trickles in forever is a success. The rest of a body is never
// read: closing it early drops the connection rather than draining it.
func (s *Sender) Send(ctx context.Context, req delivery.SendRequest) delivery.AttemptResult {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	header := s.requestHeader(req)
	result := delivery.AttemptResult{RequestHeader: header.Clone()}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		result.Err = s.attemptError(ctx, req.URL, fmt.Errorf("build request: %w", err))
		return result
	}
	httpReq.Header = header

	start := time.Now()
	resp, err := s.client.Do(httpReq)
	if err != nil {
		result.Duration = time.Since(start)
		result.Err = s.attemptError(ctx, req.URL, err)
		return result
	}
	defer resp.Body.Close()
	result.StatusCode = resp.StatusCode
	result.Header = resp.Header
	result.Body = readKept(resp.Body)
	result.Duration = time.Since(start)
	return result
}

// requestHeader returns the headers of an attempt: content type, user agent
// and the Standard Webhooks id, timestamp and signatures.
func (s *Sender) requestHeader(req delivery.SendRequest) http.Header {
	h := make(http.Header, 5)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.userAgent)
	webhook.SetHeaders(h, req.Secrets, req.MsgID, req.Timestamp, req.Body)
	return h
}

// attemptError classifies the error of an attempt to endpointURL that got
// no answer, and words it for the merchant (see describe). Whatever shape
// the transport gave the error, an attempt whose context ended was ended by
// that context, so it is a timeout; a guard refusal stays one, since no
// waiting was involved.
func (s *Sender) attemptError(ctx context.Context, endpointURL string, err error) *delivery.AttemptError {
	class := Classify(err)
	if class != delivery.ClassSSRFBlocked && ctx.Err() != nil {
		class = delivery.ClassTimeout
	}
	msg := describe(class, endpointURL, s.timeout, ctx.Err(), err)
	return &delivery.AttemptError{Class: class, Err: &describedError{msg: msg, err: err}}
}

// readKept reads at most delivery.MaxResponseBody bytes of body. A read
// error (the attempt's deadline cutting a slow body, a reset mid-body) keeps
// what arrived and is otherwise ignored: see Send.
func readKept(body io.Reader) []byte {
	kept, _ := io.ReadAll(io.LimitReader(body, delivery.MaxResponseBody))
	return kept
}
