package deliverynet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

// The test servers listen on loopback, which the guard refuses by default,
// so tests that must reach them allow exactly their address.
var (
	loopback4 = netip.MustParsePrefix("127.0.0.1/32")
	loopback6 = netip.MustParsePrefix("::1/128")
)

const testBody = `{"id":"evt_test","object":"event","type":"charge.succeeded","created":1700000000,"data":{"object":{}}}`

// newTestSender returns a Sender that may reach 127.0.0.1 unless cfg has a
// Guard of its own.
func newTestSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.Guard == nil {
		cfg.Guard = NewGuard([]netip.Prefix{loopback4})
	}
	s := NewSender(cfg)
	t.Cleanup(s.Close)
	return s
}

// newTestRequest returns a request for url signed with one secret, stamped
// now so the peer library's timestamp tolerance accepts it.
func newTestRequest(url string) delivery.SendRequest {
	return delivery.SendRequest{
		URL:       url,
		MsgID:     "evt_test",
		Body:      []byte(testBody),
		Secrets:   [][]byte{[]byte("first-secret-0123456789abcdef")},
		Timestamp: time.Now(),
	}
}

// counted serves h and counts the requests that reach it.
func counted(h http.HandlerFunc) (http.Handler, *atomic.Int32) {
	var hits atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}), &hits
}

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func newTestTLSServer(t *testing.T, h http.Handler, cfg *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	// Handshake failures are the point of the TLS tests; keep them out of
	// the test output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// newTestServer6 serves h on [::1]. Where the machine has no IPv6 loopback
// it skips, unless HERALD_REQUIRE_IPV6=1 (set by .ci/run, which enables
// IPv6 on lo first): there the IPv6 cases of the SSRF guard must run, so it
// fails instead.
func newTestServer6(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_IPV6") == "1" {
			t.Fatalf("no IPv6 loopback, and HERALD_REQUIRE_IPV6=1: %v", err)
		}
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := httptest.NewUnstartedServer(h)
	require.NoError(t, srv.Listener.Close())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// blockUntilGone holds the request until the client goes away. net/http
// only notices a client hanging up (and cancels r.Context) once the handler
// has read the request body, so it reads it first.
func blockUntilGone(_ http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func port(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, p, err := net.SplitHostPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	return p
}

func TestSendSignedRequest(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name          string
		userAgent     string
		wantUserAgent string
		secrets       [][]byte
	}{
		{"one secret, default user agent", "", DefaultUserAgent, [][]byte{[]byte("first-secret-0123456789abcdef")}},
		{"two secrets during a roll", "", DefaultUserAgent, [][]byte{[]byte("first-secret-0123456789abcdef"), []byte("second-secret-0123456789abcd")}},
		{"custom user agent", "Herald-Test/0", "Herald-Test/0", [][]byte{[]byte("first-secret-0123456789abcdef")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			type received struct {
				header http.Header
				body   []byte
			}
			got := make(chan received, 1)
			srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- received{header: r.Header.Clone(), body: body}
				w.Header().Set("X-Sink", "seen")
				_, _ = io.WriteString(w, `{"received":true}`)
			}))
			s := newTestSender(t, Config{UserAgent: tt.userAgent})
			req := newTestRequest(srv.URL + "/hooks")
			req.Secrets = tt.secrets

			res := s.Send(t.Context(), req)

			require.Nil(t, res.Err)
			require.True(t, res.Succeeded())
			require.Equal(t, delivery.ClassNone, res.Class())
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, "seen", res.Header.Get("X-Sink"))
			require.Equal(t, `{"received":true}`, string(res.Body))
			require.Positive(t, res.Duration)
			require.Equal(t, "application/json", res.RequestHeader.Get("Content-Type"))
			require.Equal(t, tt.wantUserAgent, res.RequestHeader.Get("User-Agent"))
			require.Equal(t, req.MsgID, res.RequestHeader.Get(webhook.HeaderID))

			r := <-got
			require.Equal(t, testBody, string(r.body))
			require.Equal(t, "application/json", r.header.Get("Content-Type"))
			require.Equal(t, tt.wantUserAgent, r.header.Get("User-Agent"))
			require.Equal(t, req.MsgID, r.header.Get(webhook.HeaderID))
			require.Empty(t, r.header.Get("Accept-Encoding"), "the wire carries only the recorded headers")
			for _, h := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
				require.Equal(t, res.RequestHeader.Get(h), r.header.Get(h), "recorded %s is the one sent", h)
			}
			require.Len(t, strings.Fields(r.header.Get(webhook.HeaderSignature)), len(tt.secrets), "one signature per secret")
			for _, secret := range tt.secrets {
				peer, err := standardwebhooks.NewWebhookRaw(secret)
				require.NoError(t, err)
				require.NoError(t, peer.Verify(r.body, r.header), "the peer library accepts the signature")
			}
			stranger, err := standardwebhooks.NewWebhookRaw([]byte("some-other-secret-0123456789"))
			require.NoError(t, err)
			require.Error(t, stranger.Verify(r.body, r.header))
		})
	}
}

func TestSendRecordsAnswers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantHeader http.Header
		wantClass  delivery.ErrorClass
	}{
		{
			name: "500 with body",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "database on fire")
			},
			wantStatus: http.StatusInternalServerError,
			wantBody:   "database on fire",
			wantClass:  delivery.ClassHTTPStatus,
		},
		{
			name: "429 with Retry-After",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "120")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantStatus: http.StatusTooManyRequests,
			wantHeader: http.Header{"Retry-After": {"120"}},
			wantClass:  delivery.ClassHTTPStatus,
		},
		{
			name:       "410 gone",
			handler:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) },
			wantStatus: http.StatusGone,
			wantClass:  delivery.ClassHTTPStatus,
		},
		{
			name:       "204 without body",
			handler:    func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
			wantStatus: http.StatusNoContent,
			wantClass:  delivery.ClassNone,
		},
		{
			name: "body of exactly MaxResponseBody",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, strings.Repeat("k", delivery.MaxResponseBody))
			},
			wantStatus: http.StatusOK,
			wantBody:   strings.Repeat("k", delivery.MaxResponseBody),
			wantClass:  delivery.ClassNone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := newTestServer(t, tt.handler)
			res := newTestSender(t, Config{}).Send(t.Context(), newTestRequest(srv.URL))

			require.Nil(t, res.Err)
			require.Equal(t, tt.wantStatus, res.StatusCode)
			require.Equal(t, tt.wantBody, string(res.Body))
			require.Equal(t, tt.wantClass, res.Class())
			for k := range tt.wantHeader {
				require.Equal(t, tt.wantHeader.Get(k), res.Header.Get(k))
			}
		})
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()

	for _, code := range []int{
		http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
	} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()

			target, targetHits := counted(func(w http.ResponseWriter, _ *http.Request) {})
			targetSrv := newTestServer(t, target)
			redirector := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, targetSrv.URL+"/elsewhere", code)
			}))

			res := newTestSender(t, Config{}).Send(t.Context(), newTestRequest(redirector.URL))

			require.Nil(t, res.Err)
			require.Equal(t, code, res.StatusCode)
			require.Equal(t, targetSrv.URL+"/elsewhere", res.Header.Get("Location"))
			require.Equal(t, delivery.ClassHTTPStatus, res.Class())
			require.False(t, res.Succeeded())
			require.Zero(t, targetHits.Load(), "the redirect target is never contacted")
		})
	}
}

func TestSendKeepsOnlyMaxResponseBody(t *testing.T) {
	t.Parallel()

	const total = 50 << 20
	chunk := []byte(strings.Repeat("0123456789abcdef", 2048)) // 32 KiB
	written := make(chan int, 1)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := 0
		for n < total {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				break
			}
		}
		written <- n
	}))
	s := newTestSender(t, Config{Timeout: 30 * time.Second})

	start := time.Now()
	res := s.Send(t.Context(), newTestRequest(srv.URL))
	elapsed := time.Since(start)

	require.Nil(t, res.Err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, res.Body, delivery.MaxResponseBody)
	require.Equal(t, chunk[:delivery.MaxResponseBody], res.Body)
	require.Less(t, elapsed, 5*time.Second)
	select {
	case n := <-written:
		require.Less(t, n, total, "the client went away instead of reading 50 MB")
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the server is still streaming: the client did not close the connection")
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()

	const timeout = 200 * time.Millisecond
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantClass  delivery.ErrorClass
		wantBody   bool
	}{
		{
			name:      "no answer",
			handler:   blockUntilGone,
			wantClass: delivery.ClassTimeout,
		},
		{
			// The status line is the answer; the body is only kept for the
			// log, so a body cut by the timeout leaves a successful attempt.
			name: "slow-loris body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				for {
					if _, err := io.WriteString(w, "."); err != nil {
						return
					}
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			},
			wantStatus: http.StatusOK,
			wantClass:  delivery.ClassNone,
			wantBody:   true,
		},
		{
			name: "status then silence",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.(http.Flusher).Flush()
				blockUntilGone(w, r)
			},
			wantStatus: http.StatusServiceUnavailable,
			wantClass:  delivery.ClassHTTPStatus,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := newTestServer(t, tt.handler)
			s := newTestSender(t, Config{Timeout: timeout})

			start := time.Now()
			res := s.Send(t.Context(), newTestRequest(srv.URL))
			elapsed := time.Since(start)

			require.Equal(t, tt.wantClass, res.Class())
			require.Equal(t, tt.wantStatus, res.StatusCode)
			require.GreaterOrEqual(t, elapsed, timeout)
			require.Less(t, elapsed, timeout+2*time.Second, "the timeout cuts the attempt")
			if tt.wantClass == delivery.ClassTimeout {
				require.ErrorIs(t, res.Err, context.DeadlineExceeded)
				require.Equal(t, "no response within 200ms", res.Err.Error())
				requireMerchantSafe(t, res.Err.Error())
				require.Nil(t, res.Header)
				return
			}
			require.Nil(t, res.Err)
			if tt.wantBody {
				require.NotEmpty(t, res.Body, "what arrived before the timeout is kept")
				require.Less(t, len(res.Body), delivery.MaxResponseBody)
				require.Equal(t, strings.Repeat(".", len(res.Body)), string(res.Body))
			}
		})
	}
}

func TestSendCancelledByCaller(t *testing.T) {
	t.Parallel()

	t.Run("while waiting for the answer", func(t *testing.T) {
		t.Parallel()

		arrived := make(chan struct{})
		srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(arrived)
			blockUntilGone(w, r)
		}))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go func() {
			<-arrived
			cancel()
		}()

		res := newTestSender(t, Config{}).Send(ctx, newTestRequest(srv.URL))

		require.Equal(t, delivery.ClassTimeout, res.Class())
		require.ErrorIs(t, res.Err, context.Canceled)
		require.Equal(t, stoppedMessage, res.Err.Error())
		require.Zero(t, res.StatusCode)
	})
	t.Run("before sending", func(t *testing.T) {
		t.Parallel()

		h, hits := counted(func(http.ResponseWriter, *http.Request) {})
		srv := newTestServer(t, h)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()

		res := newTestSender(t, Config{}).Send(ctx, newTestRequest(srv.URL))

		require.Equal(t, delivery.ClassTimeout, res.Class())
		require.ErrorIs(t, res.Err, context.Canceled)
		require.Equal(t, stoppedMessage, res.Err.Error())
		require.Zero(t, hits.Load())
	})
}

// stoppedMessage is the attempt message when the caller cancels an attempt
// to a test server.
const stoppedMessage = "the attempt was stopped before the endpoint's IP address answered (Herald was shutting down); it will be retried"

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)

	tests := []struct{ name, url, want string }{
		{"by IP address", "http://" + addr + "/", "connection refused by the endpoint's IP address, port " + p},
		// localhost resolves to 127.0.0.1 and ::1 here: the message names
		// the host, not the addresses tried.
		{"by name", "http://localhost:" + p + "/", "connection refused by localhost:" + p},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			s := newTestSender(t, Config{Guard: NewGuard([]netip.Prefix{loopback4, loopback6})})
			res := s.Send(t.Context(), newTestRequest(tt.url))

			require.Equal(t, delivery.ClassConnectionRefused, res.Class(), "error: %v", res.Err)
			require.ErrorIs(t, res.Err, syscall.ECONNREFUSED)
			require.Equal(t, tt.want, res.Err.Error())
			requireMerchantSafe(t, res.Err.Error())
			require.Zero(t, res.StatusCode)
		})
	}
}

func TestSendDNSFailure(t *testing.T) {
	t.Parallel()

	// .invalid never resolves (RFC 6761). Whether this machine's resolver
	// answers NXDOMAIN, refuses, or is absent, the lookup fails with a
	// *net.DNSError; the generous timeout lets even a black-holed resolver
	// give up on its own (2 tries of 5 s) before the attempt does.
	tests := []struct{ name, url, host string }{
		{"http", "http://nonexistent.invalid/", "nonexistent.invalid"},
		{"https with port", "https://hooks.nonexistent.invalid:8443/x", "hooks.nonexistent.invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			res := newTestSender(t, Config{Timeout: 30 * time.Second, Guard: NewGuard(nil)}).
				Send(t.Context(), newTestRequest(tt.url))

			require.Equal(t, delivery.ClassDNS, res.Class(), "error: %v", res.Err)
			require.True(t, strings.HasPrefix(res.Err.Error(), "could not resolve host "+tt.host), res.Err.Error())
			requireMerchantSafe(t, res.Err.Error())
			_, isDNS := errors.AsType[*net.DNSError](res.Err)
			require.True(t, isDNS, "the cause is still reachable")
			require.Zero(t, res.StatusCode)
		})
	}
}

func TestSendTLS(t *testing.T) {
	t.Parallel()

	trusting := func(srv *httptest.Server) *tls.Config {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }
	const failed = "TLS handshake with the endpoint's IP address failed: "
	tests := []struct {
		name      string
		server    func(t *testing.T, h http.Handler) *httptest.Server
		scheme    string
		host      string // instead of the server's IP address
		tlsConfig func(srv *httptest.Server) *tls.Config
		wantClass delivery.ErrorClass
		wantMsg   string
		wantHits  int32
	}{
		{
			name:      "untrusted certificate",
			server:    func(t *testing.T, h http.Handler) *httptest.Server { return newTestTLSServer(t, h, nil) },
			tlsConfig: func(*httptest.Server) *tls.Config { return nil },
			wantClass: delivery.ClassTLS,
			wantMsg:   failed + "the certificate is not trusted (unknown authority)",
		},
		{
			name:      "trusted test CA",
			server:    func(t *testing.T, h http.Handler) *httptest.Server { return newTestTLSServer(t, h, nil) },
			tlsConfig: trusting,
			wantClass: delivery.ClassNone,
			wantHits:  1,
		},
		{
			name:   "certificate for another name",
			server: func(t *testing.T, h http.Handler) *httptest.Server { return newTestTLSServer(t, h, nil) },
			tlsConfig: func(srv *httptest.Server) *tls.Config {
				c := trusting(srv)
				c.ServerName = "not-in-the-certificate.test"
				return c
			},
			wantClass: delivery.ClassTLS,
			wantMsg:   failed + "the certificate does not match the host",
		},
		{
			// httptest's certificate is for example.com and the loopback
			// addresses, not for the name localhost.
			name:      "certificate for another name, by host name",
			server:    func(t *testing.T, h http.Handler) *httptest.Server { return newTestTLSServer(t, h, nil) },
			host:      "localhost",
			tlsConfig: trusting,
			wantClass: delivery.ClassTLS,
			wantMsg:   "TLS handshake with localhost failed: the certificate does not match the host",
		},
		{
			name: "client certificate required",
			server: func(t *testing.T, h http.Handler) *httptest.Server {
				return newTestTLSServer(t, h, &tls.Config{ClientAuth: tls.RequireAnyClientCert})
			},
			tlsConfig: trusting,
			wantClass: delivery.ClassTLS,
			wantMsg:   failed + "the server refused the handshake with a TLS alert",
		},
		{
			name:      "plain HTTP behind an https URL",
			server:    newTestServer,
			scheme:    "https",
			tlsConfig: func(*httptest.Server) *tls.Config { return nil },
			wantClass: delivery.ClassTLS,
			wantMsg:   failed + "the server does not speak TLS on this port (plain HTTP behind an https URL?)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h, hits := counted(ok)
			srv := tt.server(t, h)
			url := srv.URL
			if tt.scheme != "" {
				url = tt.scheme + "://" + srv.Listener.Addr().String()
			}
			if tt.host != "" {
				url = "https://" + tt.host + ":" + port(t, srv)
			}

			res := newTestSender(t, Config{TLSConfig: tt.tlsConfig(srv)}).Send(t.Context(), newTestRequest(url))

			require.Equal(t, tt.wantClass, res.Class(), "error: %v", res.Err)
			require.Equal(t, tt.wantHits, hits.Load())
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, res.Err.Error())
				requireMerchantSafe(t, res.Err.Error())
			}
		})
	}
}

// blockedIPMessage is the attempt message for an endpoint registered by an
// address the guard refuses.
const blockedIPMessage = "the endpoint's IP address is one Herald does not deliver to (loopback, private, link-local or reserved)"

func TestSendSSRFBlocked(t *testing.T) {
	t.Parallel()

	// onLoopback targets a counting server on 127.0.0.1 through host, an
	// address or name that reaches it.
	onLoopback := func(host string) func(t *testing.T) (string, *atomic.Int32) {
		return func(t *testing.T) (string, *atomic.Int32) {
			h, hits := counted(func(http.ResponseWriter, *http.Request) {})
			return "http://" + host + ":" + port(t, newTestServer(t, h)) + "/", hits
		}
	}
	// noServer targets url, with no server behind it.
	noServer := func(url string) func(*testing.T) (string, *atomic.Int32) {
		return func(*testing.T) (string, *atomic.Int32) { return url, nil }
	}
	tests := []struct {
		name string
		// target returns the URL to send to and the hit counter of the
		// server behind it (nil when there is none).
		target  func(t *testing.T) (string, *atomic.Int32)
		wantMsg string
	}{
		{name: "IPv4 loopback", target: onLoopback("127.0.0.1"), wantMsg: blockedIPMessage},
		{
			name:    "hostname resolving to loopback",
			target:  onLoopback("localhost"),
			wantMsg: "localhost resolves to an address Herald does not deliver to (loopback, private, link-local or reserved)",
		},
		{
			name: "IPv6 loopback",
			target: func(t *testing.T) (string, *atomic.Int32) {
				h, hits := counted(func(http.ResponseWriter, *http.Request) {})
				return "http://[::1]:" + port(t, newTestServer6(t, h)) + "/", hits
			},
			wantMsg: blockedIPMessage,
		},
		// Connecting to 0.0.0.0 reaches local listeners on Linux.
		{name: "unspecified", target: onLoopback("0.0.0.0"), wantMsg: blockedIPMessage},
		{name: "IPv4-mapped loopback", target: onLoopback("[::ffff:127.0.0.1]"), wantMsg: blockedIPMessage},
		{name: "cloud metadata", target: noServer("http://169.254.169.254/latest/meta-data/"), wantMsg: blockedIPMessage},
		{name: "private", target: noServer("https://10.20.30.40/hooks"), wantMsg: blockedIPMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			url, hits := tt.target(t)
			s := newTestSender(t, Config{Guard: NewGuard(nil)})

			res := s.Send(t.Context(), newTestRequest(url))

			require.Equal(t, delivery.ClassSSRFBlocked, res.Class(), "error: %v", res.Err)
			require.ErrorIs(t, res.Err, delivery.ErrSSRFBlocked)
			require.Equal(t, tt.wantMsg, res.Err.Error())
			requireMerchantSafe(t, res.Err.Error())
			require.NotContains(t, res.Err.Error(), string(newTestRequest("").Secrets[0]), "errors never carry the secret")
			require.Zero(t, res.StatusCode)
			if hits != nil {
				require.Zero(t, hits.Load(), "the server never sees the request")
			}
		})
	}
}

func TestSendAllowList(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		allow  netip.Prefix
		server func(t *testing.T, h http.Handler) *httptest.Server
	}{
		{"IPv4 loopback", loopback4, newTestServer},
		{"IPv6 loopback", loopback6, newTestServer6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			h, hits := counted(func(http.ResponseWriter, *http.Request) {})
			srv := tt.server(t, h)
			s := newTestSender(t, Config{Guard: NewGuard([]netip.Prefix{tt.allow})})

			res := s.Send(t.Context(), newTestRequest(srv.URL))

			require.True(t, res.Succeeded(), "error: %v", res.Err)
			require.Equal(t, int32(1), hits.Load())
		})
	}
}

func TestSendMalformedURL(t *testing.T) {
	t.Parallel()

	const notAURL = "the endpoint URL is not an absolute http or https URL"
	for url, want := range map[string]string{
		"://no-scheme":            notAURL,
		"http://":                 notAURL,
		"ftp://127.0.0.1/hooks":   notAURL,
		"http://127.0.0.1:99999/": "connection to the endpoint's IP address, port 99999 failed",
		"http://[::1/":            notAURL,
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()

			req := newTestRequest(url)
			res := newTestSender(t, Config{}).Send(t.Context(), req)

			require.Equal(t, delivery.ClassConnection, res.Class(), "error: %v", res.Err)
			require.Equal(t, want, res.Err.Error())
			requireMerchantSafe(t, res.Err.Error())
			require.NotContains(t, res.Err.Error(), string(req.Secrets[0]), "errors never carry the secret")
			require.Zero(t, res.StatusCode)
			require.Equal(t, req.MsgID, res.RequestHeader.Get(webhook.HeaderID), "the headers are recorded even so")
		})
	}
}

// countingTransport stands for the Prometheus instrumentation that
// Config.WrapTransport exists for.
type countingTransport struct {
	next  http.RoundTripper
	calls atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.next.RoundTrip(r)
}

func TestWrapTransport(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		guard     *Guard
		wantClass delivery.ErrorClass
	}{
		{"wrapped requests go out", NewGuard([]netip.Prefix{loopback4}), delivery.ClassNone},
		{"wrapping keeps the guard", NewGuard(nil), delivery.ClassSSRFBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			srv := newTestServer(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			var wrapper *countingTransport
			s := newTestSender(t, Config{
				Guard: tt.guard,
				WrapTransport: func(next http.RoundTripper) http.RoundTripper {
					wrapper = &countingTransport{next: next}
					return wrapper
				},
			})

			res := s.Send(t.Context(), newTestRequest(srv.URL))

			require.Equal(t, tt.wantClass, res.Class(), "error: %v", res.Err)
			require.Equal(t, int32(1), wrapper.calls.Load())
		})
	}
}

func TestNewSenderPanicsOnWiringBugs(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		cfg  Config
	}{
		{"no guard", Config{}},
		{"wrapper returns nil", Config{
			Guard:         NewGuard(nil),
			WrapTransport: func(http.RoundTripper) http.RoundTripper { return nil },
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Panics(t, func() { NewSender(tt.cfg) })
		})
	}
}

func TestTransportCannotBeRoutedAround(t *testing.T) {
	t.Parallel()

	// HTTP(S)_PROXY cannot be set here (t.Setenv forbids t.Parallel, and
	// net/http reads the environment once per process), so check the
	// setting itself: a nil Proxy means the environment is never consulted.
	s := newTestSender(t, Config{})
	require.Nil(t, s.transport.Proxy)
	require.NotNil(t, s.transport.DialContext)
	require.Nil(t, s.transport.DialTLSContext, "TLS connections are dialed through the guarded dialer too")
	require.NotNil(t, s.client.CheckRedirect)
}

// Attempts that run at once to one host each keep their connection for the
// next ones, up to MaxIdleConnsPerHost and MaxIdleConns: many merchants'
// endpoints may sit on one host (a platform's webhook gateway), and an
// attempt that finds no idle connection pays a new TCP (and TLS) handshake.
func TestSendReusesConnectionsPerHost(t *testing.T) {
	t.Parallel()
	const n, rounds = 40, 3 // n is above DefaultMaxIdleConnsPerHost
	for _, c := range []struct {
		name      string
		cfg       Config
		wantConns int32
	}{
		{"one per attempt at once", Config{MaxIdleConnsPerHost: n, MaxIdleConns: n}, n},
		// Half the connections are dropped after each round, and dialed
		// again in the next.
		{"fewer in all", Config{MaxIdleConnsPerHost: n, MaxIdleConns: n / 2}, n + (rounds-1)*n/2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			arrived, release := 0, make(chan struct{})
			// Each round's n requests are all held until the last one
			// arrives, so n connections are in use at once.
			h := func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				arrived++
				wait := release
				if arrived == n {
					close(release)
					arrived, release = 0, make(chan struct{})
				}
				mu.Unlock()
				<-wait
			}
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(h))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)

			s := newTestSender(t, c.cfg)
			for range rounds {
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						res := s.Send(context.Background(), newTestRequest(srv.URL))
						assert.Nil(t, res.Err)
						assert.Equal(t, http.StatusOK, res.StatusCode)
					})
				}
				wg.Wait()
			}
			require.Equal(t, c.wantConns, conns.Load(), "connections opened for %d rounds of %d attempts at once", rounds, n)
		})
	}
}
