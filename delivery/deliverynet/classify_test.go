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
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
)

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
