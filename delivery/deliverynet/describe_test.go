package deliverynet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
)

var (
	ipv4Literal = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	// Two colons or more: "api.example.com:443" has one.
	ipv6Literal = regexp.MustCompile(`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,}`)
)

// requireMerchantSafe checks an attempt message a merchant will read: no IP
// address (resolved, Herald's own or the resolver's), no resolver port, none
// of the transport's own wording.
func requireMerchantSafe(t *testing.T, msg string) {
	t.Helper()
	require.NotEmpty(t, msg)
	require.False(t, ipv4Literal.MatchString(msg), "IPv4 literal in %q", msg)
	require.False(t, ipv6Literal.MatchString(msg), "IPv6 literal in %q", msg)
	for _, leak := range []string{":53", "lookup ", "dial ", "tcp", "read ", "write ", "remote error", "x509", "tls:", "Post \""} {
		require.NotContains(t, msg, leak, "in %q", msg)
	}
}

// describe's sentences, from errors shaped as the transport shapes them,
// the resolver's address and the peer's words included: none reaches the
// message, and errors.Is and errors.As still see the cause.
func TestDescribe(t *testing.T) {
	t.Parallel()

	const endpoint = "https://api.example.com/hooks"
	post := func(err error) error { return &url.Error{Op: "Post", URL: endpoint, Err: err} }
	dial := func(addr string, err error) error {
		return post(&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP(addr), Port: 443},
			Err: &os.SyscallError{Syscall: "connect", Err: err}})
	}
	evilCert := &x509.Certificate{DNSNames: []string{"evil.test\x1b[31m<script>"}}
	tests := []struct {
		name   string
		url    string
		ctxErr error
		err    error
		want   string
	}{
		{"guard refusal of a resolved address", endpoint, nil,
			dial("10.1.2.3", fmt.Errorf("10.1.2.3 is private (10.0.0.0/8): %w", delivery.ErrSSRFBlocked)),
			"api.example.com resolves to an address Herald does not deliver to (loopback, private, link-local or reserved)"},
		{"guard refusal of an IP endpoint", "http://169.254.169.254/latest", nil,
			dial("169.254.169.254", fmt.Errorf("169.254.169.254 is link-local: %w", delivery.ErrSSRFBlocked)),
			"the endpoint's IP address is one Herald does not deliver to (loopback, private, link-local or reserved)"},
		{"no such host", endpoint, nil,
			post(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "api.example.com", Server: "10.0.0.2:53", IsNotFound: true}}),
			"could not resolve host api.example.com: no such host"},
		{"slow resolver", endpoint, nil,
			post(&net.DNSError{Err: "i/o timeout", Name: "api.example.com", Server: "[fd00::53]:53", IsTimeout: true}),
			"could not resolve host api.example.com: the DNS query timed out"},
		{"resolver misbehaving", endpoint, nil,
			post(&net.DNSError{Err: "server misbehaving", Name: "api.example.com", Server: "10.0.0.2:53"}),
			"could not resolve host api.example.com"},
		{"the attempt's deadline", endpoint, context.DeadlineExceeded,
			post(context.DeadlineExceeded), "no response within 15s"},
		{"stopped by the caller", endpoint, context.Canceled,
			post(context.Canceled), "the attempt was stopped before api.example.com answered (Herald was shutting down); it will be retried"},
		{"connect timed out", "https://api.example.com:8443/x", nil,
			dial("93.184.216.34", syscall.ETIMEDOUT), "connecting to api.example.com:8443 timed out"},
		{"refused", endpoint, nil, dial("93.184.216.34", syscall.ECONNREFUSED), "connection refused by api.example.com:443"},
		{"refused, http", "http://api.example.com/x", nil, dial("93.184.216.34", syscall.ECONNREFUSED), "connection refused by api.example.com:80"},
		{"refused, IP endpoint", "http://[2001:db8::1]:8080/x", nil, dial("2001:db8::1", syscall.ECONNREFUSED),
			"connection refused by the endpoint's IP address, port 8080"},
		{"unknown authority", endpoint, nil,
			post(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{Cert: evilCert}}),
			"TLS handshake with api.example.com failed: the certificate is not trusted (unknown authority)"},
		{"certificate for another name", endpoint, nil,
			post(&tls.CertificateVerificationError{Err: x509.HostnameError{Certificate: evilCert, Host: "api.example.com"}}),
			"TLS handshake with api.example.com failed: the certificate does not match the host"},
		{"expired certificate", endpoint, nil,
			post(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Cert: evilCert, Reason: x509.Expired, Detail: "evil detail"}}),
			"TLS handshake with api.example.com failed: the certificate has expired or is not yet valid"},
		{"plain HTTP server", endpoint, nil, post(http.ErrSchemeMismatch),
			"TLS handshake with api.example.com failed: the server does not speak TLS on this port (plain HTTP behind an https URL?)"},
		{"alert from the peer", endpoint, nil,
			post(&net.OpError{Op: "remote error", Err: errors.New("tls: evil\x00alert")}),
			"TLS handshake with api.example.com failed: the server refused the handshake with a TLS alert"},
		{"local alert", endpoint, nil, post(fmt.Errorf("handshake: %w", tls.AlertError(80))),
			"TLS handshake with api.example.com failed: the handshake did not complete"},
		{"reset", endpoint, nil, post(&net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}),
			"connection to api.example.com:443 failed: the connection was reset"},
		{"unreachable", endpoint, nil, dial("93.184.216.34", syscall.EHOSTUNREACH),
			"connection to api.example.com:443 failed: the host is unreachable"},
		{"closed without an answer", endpoint, nil, post(io.EOF),
			"connection to api.example.com:443 failed: the connection was closed before a response arrived"},
		{"anything else", endpoint, nil, post(errors.New("net/http: HTTP/1.x transport connection broken: malformed HTTP response \"\\x00evil\"")),
			"connection to api.example.com:443 failed"},
		{"not a URL", "://nope", nil, errors.New("parse \"://nope\": missing protocol scheme"),
			"the endpoint URL is not an absolute http or https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			class := Classify(tt.err)
			if class != delivery.ClassSSRFBlocked && tt.ctxErr != nil {
				class = delivery.ClassTimeout
			}
			msg := describe(class, tt.url, 15*time.Second, tt.ctxErr, tt.err)
			require.Equal(t, tt.want, msg)
			requireMerchantSafe(t, msg)
			require.NotContains(t, msg, "evil")

			attemptErr := &delivery.AttemptError{Class: class, Err: &describedError{msg: msg, err: tt.err}}
			require.Equal(t, tt.want, attemptErr.Error(), "the attempt log stores the sentence alone")
			require.ErrorIs(t, attemptErr, tt.err, "the cause is still reachable")
			require.Equal(t, class, Classify(attemptErr), "classifying the wrapped error gives the same class")
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()

	dial := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://example.com/hook", Err: &net.OpError{
			Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err},
		}}
	}
	tests := []struct {
		name string
		err  error
		want delivery.ErrorClass
	}{
		{"nil", nil, delivery.ClassNone},
		{"guard refusal", dial(fmt.Errorf("10.0.0.1 is private: %w", delivery.ErrSSRFBlocked)), delivery.ClassSSRFBlocked},
		{"guard refusal joined", errors.Join(io.EOF, delivery.ErrSSRFBlocked), delivery.ClassSSRFBlocked},
		{"deadline", &url.Error{Op: "Post", URL: "u", Err: context.DeadlineExceeded}, delivery.ClassTimeout},
		{"cancelled", &url.Error{Op: "Post", URL: "u", Err: context.Canceled}, delivery.ClassTimeout},
		{"I/O deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), delivery.ClassTimeout},
		{"connect timed out", dial(syscall.ETIMEDOUT), delivery.ClassTimeout},
		{"no such host", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, delivery.ClassDNS},
		{"slow DNS server", &net.DNSError{Err: "i/o timeout", Name: "x.example", IsTimeout: true}, delivery.ClassDNS},
		{"DNS cut by the deadline", &net.DNSError{Err: "i/o timeout", UnwrapErr: context.DeadlineExceeded}, delivery.ClassTimeout},
		{"refused", dial(syscall.ECONNREFUSED), delivery.ClassConnectionRefused},
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, delivery.ClassTLS},
		{"hostname mismatch", fmt.Errorf("handshake: %w", x509.HostnameError{}), delivery.ClassTLS},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, delivery.ClassTLS},
		{"not TLS", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, delivery.ClassTLS},
		{"plain HTTP server", &url.Error{Op: "Post", URL: "u", Err: http.ErrSchemeMismatch}, delivery.ClassTLS},
		{"local alert", fmt.Errorf("handshake: %w", tls.AlertError(40)), delivery.ClassTLS},
		{"remote alert", &url.Error{Op: "Post", URL: "u", Err: &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}}, delivery.ClassTLS},
		{"reset", dial(syscall.ECONNRESET), delivery.ClassConnection},
		{"unreachable", dial(syscall.EHOSTUNREACH), delivery.ClassConnection},
		{"EOF", &url.Error{Op: "Post", URL: "u", Err: io.EOF}, delivery.ClassConnection},
		{"unexpected EOF", io.ErrUnexpectedEOF, delivery.ClassConnection},
		{"anything else", errors.New("unsupported protocol scheme"), delivery.ClassConnection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, Classify(tt.err))
		})
	}
}
