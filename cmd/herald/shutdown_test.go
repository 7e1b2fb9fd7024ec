package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// freeAddr returns a 127.0.0.1 address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// SIGTERM stops accepting connections at once, lets a request that is
// already in flight finish with its real answer, and exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL, pool, key := merchantDB(t)

	p := newHeraldProcess(t, dbURL)
	p.start(t)
	addr := p.addr

	// Start a request and stop before its body. "Expect: 100-continue"
	// makes the server say when the handler starts reading the body, so the
	// signal is sent while the request is certainly in flight (and not still
	// waiting in the listen backlog, which closing the listener resets).
	body := `{"line_items":[{"name":"Pen","unit_amount":250,"quantity":1}],"currency":"usd",` +
		`"success_url":"https://shop.test/ok","cancel_url":"https://shop.test/cart"}`
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/checkout/sessions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, key, len(body))
	br := bufio.NewReader(conn)
	cont, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusContinue, cont.StatusCode)

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	waitFor(t, 10*time.Second, "the listener to close", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})

	_, err = io.WriteString(conn, body)
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err, "stderr:\n%s", p.stderr)
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	require.Contains(t, string(out), `"object":"checkout.session"`)

	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status; stderr:\n%s", p.stderr.String())
	case <-time.After(30 * time.Second):
		// Reaped here, not by the cleanup's kill: one Wait at a time.
		_ = p.cmd.Process.Kill()
		killed := <-done
		t.Fatalf("herald did not exit after SIGTERM (then killed: %v); stderr:\n%s", killed, p.stderr.String())
	}
	require.Contains(t, p.stderr.String(), "herald stopped")

	var sessions int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM checkout_sessions`).Scan(&sessions))
	require.Equal(t, 1, sessions, "the drained request's work is committed")
}

// A herald process is killed (SIGKILL) while it runs a create under an
// Idempotency-Key. The retry, sent to another process on the same database,
// gets 409 while the dead request's lease lives, then runs within 15 s of
// the kill; the dead request's own INSERT, which was waiting on a lock, is
// aborted by Postgres rather than committed later. One endpoint exists.
func TestKilledRequestFreesItsIdempotencyKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL, pool, key := merchantDB(t)
	killed := newHeraldProcess(t, dbURL, "HERALD_ROLES=api")
	other := newHeraldProcess(t, dbURL, "HERALD_ROLES=api")
	killed.start(t)
	other.start(t)

	const body = `{"url":"https://merchant.test/hooks","enabled_events":["*"]}`
	create := func(ctx context.Context, baseURL string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/webhook_endpoints", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "endpoint-1")
		return http.DefaultClient.Do(req)
	}
	// waiting counts the statements inserting an endpoint that wait on a lock.
	waiting := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO webhook_endpoints%'`).Scan(&n))
		return n
	}

	// The first request blocks in its handler: the test holds the table.
	lock, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer lock.Rollback(ctx) //nolint:errcheck // rolled back below; this covers a failed assertion
	_, err = lock.Exec(ctx, `LOCK TABLE webhook_endpoints IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	firstDone := make(chan struct{})
	go func() {
		defer close(firstDone)
		if resp, err := create(ctx, killed.url()); err == nil { // the kill cuts it off
			resp.Body.Close()
		}
	}()
	waitFor(t, 15*time.Second, "the first request's INSERT to wait on the lock", func() bool { return waiting() == 1 })

	killed.kill()
	killedAt := time.Now()
	<-firstDone
	var leaseLeft time.Duration
	require.NoError(t, pool.QueryRow(ctx, `SELECT locked_until - now() FROM idempotency_keys WHERE key = 'endpoint-1'`).Scan(&leaseLeft))
	leaseEnds := time.Now().Add(leaseLeft)
	require.Positive(t, leaseLeft, "the dead request's lease is still alive")
	require.LessOrEqual(t, leaseLeft, 15*time.Second, "the key is free within 15 s of the kill")
	// Postgres notices the client is gone and aborts the INSERT; only then
	// is the table released, so a statement surviving its process would
	// show as a second endpoint.
	waitFor(t, 10*time.Second, "Postgres to abort the killed request's INSERT", func() bool { return waiting() == 0 })
	require.NoError(t, lock.Rollback(ctx))

	conflicts := 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var created apiResponse
	for {
		sent := time.Now()
		resp, err := create(ctx, other.url())
		require.NoError(t, err)
		r := readResponse(t, resp)
		if r.Status == http.StatusOK {
			require.True(t, sent.After(leaseEnds.Add(-time.Second)), "the retry ran while the lease lived")
			require.True(t, sent.Before(leaseEnds.Add(time.Second)), "the retry ran %s after the lease ended", sent.Sub(leaseEnds))
			created = r
			break
		}
		require.Equal(t, http.StatusConflict, r.Status, r.Raw)
		require.Equal(t, "idempotency_key_in_use", r.errorField("code"))
		require.Less(t, time.Since(killedAt), 20*time.Second, "the key is still held")
		conflicts++
		<-tick.C
	}
	require.Positive(t, conflicts, "the retry waited for the lease to end")
	t.Logf("%d conflicts; the retry ran %s after the kill (the lease had %s left)", conflicts, time.Since(killedAt).Round(time.Millisecond), leaseLeft.Round(time.Millisecond))

	resp, err := create(ctx, other.url())
	require.NoError(t, err)
	replay := readResponse(t, resp)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, created.Body["id"], replay.Body["id"])
	ids := queryStrings(t, pool, `SELECT id FROM webhook_endpoints`)
	require.Equal(t, []string{created.Body["id"].(string)}, ids, "exactly one endpoint, the one answered")
}

// readResponse reads and decodes an API answer.
func readResponse(t *testing.T, resp *http.Response) apiResponse {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := apiResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	require.NoError(t, json.Unmarshal(raw, &out.Body), "body: %s", raw)
	return out
}
