package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/heraldpay/herald/client/sse"
)

// StreamParams selects the events Events.Stream brings.
type StreamParams struct {
	// Types keeps events of these types; none brings every type.
	Types []string
	// LastEventID resumes the stream after this event, as a reconnect
	// does: pass the ID of the last event you handled. Empty starts with
	// the events that commit from now on.
	LastEventID string
}

// Stream follows GET /v1/events/stream: each of the merchant's events is
// yielded as it commits, in commit order, over one long-lived connection.
// The iteration ends without an error when ctx is done or the loop stops,
// and with one (yielded once) when Herald refuses the stream (an *Error,
// such as 429 too_many_streams) or the connection breaks: open a new
// Stream with LastEventID set to the last event you handled, and nothing
// is lost or repeated. `herald listen` is built on the same stream.
func (s *EventService) Stream(ctx context.Context, params StreamParams) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		q := url.Values{"type": params.Types}
		cl := &call{method: http.MethodGet, path: "/v1/events/stream", query: q}
		req, err := s.c.newRequest(ctx, cl)
		if err != nil {
			yield(nil, err)
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		if params.LastEventID != "" {
			req.Header.Set("Last-Event-ID", params.LastEventID)
		}
		// The Client's timeout bounds whole requests; a stream has none.
		hc := &http.Client{Transport: s.c.httpClient.Transport, CheckRedirect: s.c.httpClient.CheckRedirect, Jar: s.c.httpClient.Jar}
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				yield(nil, fmt.Errorf("herald: GET /v1/events/stream: %w", err))
			}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			yield(nil, s.c.newError(resp, body))
			return
		}
		r := sse.NewReader(resp.Body)
		for {
			m, err := r.Next()
			if err != nil {
				if ctx.Err() == nil {
					if errors.Is(err, io.EOF) {
						err = io.ErrUnexpectedEOF // Herald ends a stream only by shutting down
					}
					yield(nil, fmt.Errorf("herald: GET /v1/events/stream: %w", err))
				}
				return
			}
			var ev Event
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				yield(nil, fmt.Errorf("herald: GET /v1/events/stream: decode event %s: %w", m.ID, err))
				return
			}
			if !yield(&ev, nil) {
				return
			}
		}
	}
}
