package deliveryhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/client/sse"
	"github.com/heraldpay/herald/internal/apitest"
	"github.com/heraldpay/herald/webhook"
)

// openStream connects m to the event stream with the query and headers
// (name, value pairs) given, and returns the answer; a 200's body streams.
// A refusal is held to api/openapi.yaml.
func (b *testBundle) openStream(t *testing.T, m merchant, query string, headers ...string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/v1/events/stream"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+m.key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		// A refusal is a whole JSON answer: hold it to api/openapi.yaml.
		// (A stream's body never ends; its status and type are checked
		// by the tests that read it.)
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		apitest.Check(t, apitest.Exchange{Request: req, Response: resp, ResponseBody: raw})
		resp.Body = io.NopCloser(bytes.NewReader(raw))
	}
	return resp
}

// next reads the stream's next message, failing after a few seconds.
func next(t *testing.T, r *sse.Reader) sse.Message {
	t.Helper()
	type result struct {
		m   sse.Message
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := r.Next()
		ch <- result{m, err}
	}()
	select {
	case res := <-ch:
		require.NoError(t, res.err)
		return res.m
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return sse.Message{}
	}
}

// A stream sends the merchant's events committed after it opened, each
// with its id and body exactly as stored; another merchant's events never
// appear; reconnecting with Last-Event-ID resumes after that event.
func TestEventStream(t *testing.T) {
	t.Parallel()

	b := setup(t)
	before := b.publish(t, b.acme, webhook.TypeChargeFailed)
	resp := b.openStream(t, b.acme, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	r := sse.NewReader(resp.Body)

	b.publish(t, b.globex, webhook.TypeCheckoutSessionCompleted)
	first := b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	second := b.publish(t, b.acme, webhook.TypeChargeSucceeded)
	m := next(t, r)
	require.Equal(t, first, m.ID, "nothing from before the stream opened, nothing of another merchant")
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, m.Event)
	var stored string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT body::text FROM events WHERE id = $1`, first).Scan(&stored))
	require.Equal(t, stored, string(m.Data), "the body as webhooks carry it")
	require.Equal(t, second, next(t, r).ID)

	// Resume after first: second comes again, then what follows.
	third := b.publish(t, b.acme, webhook.TypeChargeSucceeded)
	resumed := sse.NewReader(b.openStream(t, b.acme, "", "Last-Event-ID", first).Body)
	require.Equal(t, second, next(t, resumed).ID)
	require.Equal(t, third, next(t, resumed).ID)
	require.Equal(t, third, next(t, r).ID, "the first stream goes on")

	// From an event before the first stream, as a query parameter.
	fromStart := sse.NewReader(b.openStream(t, b.acme, "?last_event_id="+before+"&type="+webhook.TypeChargeSucceeded).Body)
	require.Equal(t, second, next(t, fromStart).ID, "the type filter skips first")
	require.Equal(t, third, next(t, fromStart).ID)
}

// Bad streams are refused with the API's errors: an unknown or foreign
// Last-Event-ID, an unknown type, more open streams than allowed.
func TestEventStreamRefusals(t *testing.T) {
	t.Parallel()

	b := setup(t)
	foreign := b.publish(t, b.globex, webhook.TypeChargeFailed)
	decode := func(resp *http.Response) apitest.Reply {
		t.Helper()
		out := apitest.Reply{Status: resp.StatusCode}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out.Body))
		return out
	}
	requireError(t, decode(b.openStream(t, b.acme, "", "Last-Event-ID", foreign)), http.StatusBadRequest, "resource_missing", "Last-Event-ID")
	requireError(t, decode(b.openStream(t, b.acme, "?type=order.shipped")), http.StatusBadRequest, "parameter_invalid", "type")
	requireError(t, decode(b.openStream(t, b.acme, "", "Last-Event-ID", "cs_"+foreign[4:])), http.StatusBadRequest, "resource_missing", "Last-Event-ID")

	for range 3 {
		require.Equal(t, http.StatusOK, b.openStream(t, b.acme, "").StatusCode)
	}
	requireError(t, decode(b.openStream(t, b.acme, "")), http.StatusTooManyRequests, "too_many_streams", "")
	require.Equal(t, http.StatusOK, b.openStream(t, b.globex, "").StatusCode, "the bound is per merchant")
}

// An idle stream sends heartbeats, and Close (server shutdown) ends it.
func TestEventStreamHeartbeatAndClose(t *testing.T) {
	t.Parallel()

	b := setup(t)
	resp := b.openStream(t, b.acme, "")
	buf := make([]byte, 256)
	var got []byte
	deadline := time.Now().Add(10 * time.Second)
	for !containsAll(string(got), ": stream open", ": heartbeat") {
		require.True(t, time.Now().Before(deadline), "no heartbeat in %q", got)
		n, err := resp.Body.Read(buf)
		require.NoError(t, err)
		got = append(got, buf[:n]...)
	}
	b.stream.Close()
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, resp.Body)
		ended <- err
	}()
	select {
	case err := <-ended:
		require.NoError(t, err, "the stream ends cleanly")
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the stream")
	}
	requireError(t, func() apitest.Reply {
		r := b.openStream(t, b.acme, "")
		out := apitest.Reply{Status: r.StatusCode}
		require.NoError(t, json.NewDecoder(r.Body).Decode(&out.Body))
		return out
	}(), http.StatusServiceUnavailable, "shutting_down", "")
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
