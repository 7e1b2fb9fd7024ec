package deliverynet

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/heraldpay/herald/delivery"
)

// Defaults applied by NewSender to zero Config fields.
const (
	// DefaultTimeout bounds a whole attempt: delivery's default, the one
	// source of it.
	DefaultTimeout = delivery.DefaultAttemptTimeout
	// DefaultUserAgent names Herald to endpoints and their operators.
	DefaultUserAgent = "Herald-Webhooks/1.0 (+https://github.com/heraldpay/herald)"
	// DefaultMaxIdleConnsPerHost is enough for the default per-endpoint
	// in-flight cap (10) with room to spare.
	DefaultMaxIdleConnsPerHost = 16
	// DefaultDialTimeout bounds one TCP connect, so a black-holed address
	// fails well inside the attempt timeout and Happy Eyeballs can move on.
	DefaultDialTimeout = 5 * time.Second
)

// Transport settings that are not worth a Config field.
const (
	// idleConnTimeout drops kept-alive connections to endpoints that have
	// gone quiet, which bounds the idle pool across many hosts.
	idleConnTimeout = 90 * time.Second
	// maxResponseHeaderBytes caps the headers of an answer: they are all
	// kept in the attempt log, so the 10 MB net/http default is far too
	// generous. A bigger header block fails the attempt as a connection
	// error.
	maxResponseHeaderBytes = 64 << 10
	// tcpKeepAlive matches net/http's default transport.
	tcpKeepAlive = 30 * time.Second
)

// Config configures a Sender. Zero fields take the defaults given.
type Config struct {
	// Timeout bounds a whole attempt: connecting, TLS, sending, waiting for
	// the answer and reading the kept part of its body. Default
	// DefaultTimeout (15 s).
	Timeout time.Duration
	// Guard decides which addresses may be dialed. Required: NewSender
	// panics without one, since a Sender without a guard is a wiring bug,
	// not a configuration choice.
	Guard *Guard
	// UserAgent is sent with every request. Default DefaultUserAgent.
	UserAgent string
	// WrapTransport, if set, wraps the guarded transport, e.g. to add
	// Prometheus instrumentation. It must delegate to the transport it is
	// given, which is where the SSRF guard and the proxy ban live; NewSender
	// panics if it returns nil, because http.Client would then fall back to
	// http.DefaultTransport and bypass both. Default: no wrapping.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// MaxIdleConnsPerHost bounds the kept-alive connections per endpoint
	// host. Default DefaultMaxIdleConnsPerHost (16). An attempt that finds
	// none idle dials a new one, and its connection is closed after the
	// answer when the host already has this many idle.
	MaxIdleConnsPerHost int
	// MaxIdleConns bounds the kept-alive connections across all hosts.
	// Default 0: bounded only per host and by the idle timeout.
	MaxIdleConns int
	// DialTimeout bounds one TCP connect. Default DefaultDialTimeout (5 s).
	DialTimeout time.Duration
	// TLSConfig, if set, is cloned and used for HTTPS endpoints, e.g. so
	// tests can trust a test CA. Default: the system roots and TLS 1.2 or
	// later.
	TLSConfig *tls.Config
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.MaxIdleConnsPerHost <= 0 {
		c.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	return c
}

// newTransport returns the guarded HTTP/1.1 transport every attempt goes
// through.
func newTransport(cfg Config) *http.Transport {
	dialer := &net.Dialer{
		Timeout:   cfg.DialTimeout,
		KeepAlive: tcpKeepAlive,
		// The guard runs after DNS resolution, on each address the dialer
		// is about to connect to, so whatever a hostname resolves to (and
		// however often it changes, as in DNS rebinding) the address
		// checked is the address connected to.
		ControlContext: guardControl(cfg.Guard),
	}
	// HTTP/1.1 only: every in-flight attempt has a connection of its own, so
	// a stalled endpoint cannot hold other attempts behind a shared HTTP/2
	// connection, and closing a body early closes exactly that connection.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Transport{
		// Explicitly no proxy: HTTP_PROXY/HTTPS_PROXY from the environment
		// would otherwise have the proxy, not the guard, choose where the
		// request goes.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsConfig(cfg.TLSConfig),
		Protocols:              &protocols,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		MaxIdleConns:           cfg.MaxIdleConns,
		IdleConnTimeout:        idleConnTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		// Without compression the request on the wire carries exactly the
		// headers recorded in the attempt, and the kept body is the bytes
		// the endpoint sent rather than a decompression of them.
		DisableCompression: true,
	}
}

func tlsConfig(c *tls.Config) *tls.Config {
	if c == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return c.Clone()
}

// guardControl returns a net.Dialer ControlContext that lets a connection
// proceed only to a TCP address g accepts. It runs after the socket is
// created and before connect(2).
func guardControl(g *Guard) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(_ context.Context, network, address string, _ syscall.RawConn) error {
		if network != "tcp4" && network != "tcp6" {
			return fmt.Errorf("network %s is not TCP: %w", network, delivery.ErrSSRFBlocked)
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			// Fail closed: an address the guard cannot read is not dialed.
			return fmt.Errorf("parse dialed address: %w: %w", err, delivery.ErrSSRFBlocked)
		}
		// The dialer's *net.OpError around this error already names the
		// network and address:port, so the guard's error is enough.
		return g.Check(ap.Addr())
	}
}
