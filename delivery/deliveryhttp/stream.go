package deliveryhttp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
)

// StreamConfig tunes the live event stream.
type StreamConfig struct {
	// Poll is how often the event log is read. Default 200 ms.
	Poll time.Duration
	// Heartbeat is how often an idle stream sends a comment, so that
	// proxies and clients can tell it is alive. Default 15 s.
	Heartbeat time.Duration
	// Lag is how long an event that commits out of order is waited for
	// (delivery.FeedWindow). Default 5 s.
	Lag time.Duration
	// PerMerchant bounds a merchant's open streams in this process.
	// Default 5.
	PerMerchant int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Poll <= 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Lag <= 0 {
		c.Lag = 5 * time.Second
	}
	if c.PerMerchant <= 0 {
		c.PerMerchant = 5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// feedBatch is how many events one read of the log returns at most.
const feedBatch = 100

// Stream serves GET /v1/events/stream: the merchant's new events as
// server-sent events, as they commit. Each event is one message whose id is
// the event id and whose data is the event's body exactly as webhooks carry
// it; a client that reconnects with Last-Event-ID resumes after that event.
// Close ends every stream, so that a server shutting down is not held open
// by them.
type Stream struct {
	feed delivery.EventFeed
	cfg  StreamConfig

	mu     sync.Mutex
	open   map[string]int
	closed bool
	done   chan struct{}
}

// NewStream returns a Stream reading feed.
func NewStream(feed delivery.EventFeed, cfg StreamConfig) *Stream {
	return &Stream{feed: feed, cfg: cfg.withDefaults(), open: map[string]int{}, done: make(chan struct{})}
}

// Close ends every open stream and refuses new ones. It is safe to call
// more than once.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
}

// acquire counts a stream of merchantID open, unless it has too many.
func (s *Stream) acquire(merchantID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Type: httpapi.TypeAPI, Code: "shutting_down",
			Message: "The server is shutting down; reconnect to another."}
	case s.open[merchantID] >= s.cfg.PerMerchant:
		return &httpapi.Error{Status: http.StatusTooManyRequests, Type: httpapi.TypeRateLimit, Code: "too_many_streams",
			Message: fmt.Sprintf("At most %d event streams may be open at once; close one first.", s.cfg.PerMerchant)}
	}
	s.open[merchantID]++
	return nil
}

func (s *Stream) release(merchantID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[merchantID]--; s.open[merchantID] <= 0 {
		delete(s.open, merchantID)
	}
}

// ServeHTTP streams until the client goes, the server shuts down or a read
// of the log fails (the client reconnects with Last-Event-ID).
func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	merchantID := httpapi.MerchantID(ctx)
	types, from, err := s.parse(r, merchantID)
	if err != nil {
		httpapi.WriteError(w, r, s.cfg.Logger, err)
		return
	}
	if err := s.acquire(merchantID); err != nil {
		httpapi.WriteError(w, r, s.cfg.Logger, err)
		return
	}
	defer s.release(merchantID)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Proxies such as nginx would otherwise buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: 2 * s.cfg.Heartbeat}
	// The request is read: the server's read timeout must not end the
	// stream (where the writer supports deadlines).
	_ = out.rc.SetReadDeadline(time.Time{})
	// retry: how long a browser's EventSource waits before reconnecting.
	if err := out.send([]byte("retry: 1000\n: stream open\n\n")); err != nil {
		return
	}
	window := delivery.NewFeedWindow(from, s.cfg.Lag)
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	lastWrite := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-poll.C:
		}
		now := time.Now()
		window.Settle(now)
		after, skip := window.Read()
		events, err := s.feed.ReadFeed(ctx, merchantID, after, skip, types, feedBatch)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.cfg.Logger.ErrorContext(ctx, "event stream: read events", "request_id", httpapi.RequestID(ctx), "err", err)
			}
			return
		}
		for _, ev := range events {
			if err := out.send(eventMessage(ev)); err != nil {
				return
			}
			window.Sent(ev.Seq, now)
			lastWrite = now
		}
		if now.Sub(lastWrite) >= s.cfg.Heartbeat {
			if err := out.send([]byte(": heartbeat\n\n")); err != nil {
				return
			}
			lastWrite = now
		}
	}
}

// parse reads the event types to send (repeated "type" parameters) and
// where to start: after Last-Event-ID (the header, or the last_event_id
// parameter for clients that cannot set headers), or after the newest
// event.
func (s *Stream) parse(r *http.Request, merchantID string) ([]string, int64, error) {
	q := r.URL.Query()
	types := q["type"]
	for _, typ := range types {
		if err := knownEventType("type", typ); err != nil {
			return nil, 0, err
		}
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = q.Get("last_event_id")
	}
	if last == "" {
		from, err := s.feed.FeedHead(r.Context(), merchantID)
		return types, from, err
	}
	noSuchEvent := &validation.Error{Param: "Last-Event-ID", Code: validation.CodeResourceMissing,
		Message: fmt.Sprintf("no such event: %q; reconnect without Last-Event-ID to start from now.", last)}
	if !id.HasPrefix(last, "evt") {
		return nil, 0, noSuchEvent // not an event's id: nothing to look up
	}
	from, err := s.feed.FeedPosition(r.Context(), merchantID, last)
	if errors.Is(err, delivery.ErrNotFound) {
		return nil, 0, noSuchEvent
	}
	return types, from, err
}

// eventMessage is ev as one server-sent event. The body is one line of
// JSON; were it ever several, each line is its own data field, which
// clients join back with newlines.
func eventMessage(ev delivery.FeedEvent) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "id: %s\nevent: %s\n", ev.ID, ev.Type)
	for line := range bytes.Lines(ev.Body) {
		b.WriteString("data: ")
		b.Write(bytes.TrimRight(line, "\r\n"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// sseWriter writes and flushes each message, with a write deadline that
// replaces the server's: a stream outlives any request timeout, but a
// client that stops reading is dropped.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (o *sseWriter) send(msg []byte) error {
	// Not every ResponseWriter supports deadlines (httptest's recorder);
	// the server's own timeout then applies.
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.timeout))
	if _, err := o.w.Write(msg); err != nil {
		return err
	}
	return o.rc.Flush()
}
