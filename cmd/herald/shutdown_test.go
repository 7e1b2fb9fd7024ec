package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/syncbuf"
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

	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(os.Environ(), envExecMain+"=1", "HERALD_ENV=dev", "DATABASE_URL="+dbURL, "HERALD_ADDR="+addr)
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, 20*time.Second, "herald to listen", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

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

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
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
	require.NoError(t, err, "stderr:\n%s", stderr)
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	require.Contains(t, string(out), `"object":"checkout.session"`)

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "exit status; stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("herald did not exit after SIGTERM; stderr:\n%s", stderr.String())
	}
	require.Contains(t, stderr.String(), "herald stopped")

	var sessions int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM checkout_sessions`).Scan(&sessions))
	require.Equal(t, 1, sessions, "the drained request's work is committed")
}
