package deliverynet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/heraldpay/herald/delivery"
)

// describedError is a failed attempt's cause together with the sentence the
// merchant reads in the attempt log. Error returns the sentence only: the
// underlying error names resolved addresses, Herald's own address and the
// resolver's, and may quote the peer (certificate names, TLS alerts), none
// of which belongs in front of a merchant. Unwrap keeps the cause for
// errors.Is and errors.As, which Classify and callers rely on.
type describedError struct {
	msg string
	err error
}

func (e *describedError) Error() string { return e.msg }

func (e *describedError) Unwrap() error { return e.err }

// target is how an attempt's messages name the endpoint: by the host name
// the merchant registered and its port, never by an address. An endpoint
// registered by IP address is called "the endpoint's IP address", so that
// no message holds an IP literal at all.
type target struct {
	host     string // "api.example.com", or "the endpoint's IP address"
	hostPort string // "api.example.com:443", or "the endpoint's IP address, port 443"
	ip       bool   // registered by IP address
	valid    bool   // false when the URL is not an absolute http(s) URL
}

func newTarget(rawURL string) target {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return target{host: "the endpoint", hostPort: "the endpoint"}
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		return target{host: "the endpoint's IP address", hostPort: "the endpoint's IP address, port " + port, ip: true, valid: true}
	}
	return target{host: u.Hostname(), hostPort: u.Hostname() + ":" + port, valid: true}
}

// describe returns the merchant-facing sentence for an attempt to rawURL
// that got no answer: built from the class, the registered host name and
// fixed reasons read from the error's structure, never from its text.
// ctxErr is the attempt context's error: set when its deadline or its
// caller ended the attempt.
func describe(class delivery.ErrorClass, rawURL string, timeout time.Duration, ctxErr, err error) string {
	t := newTarget(rawURL)
	switch class {
	case delivery.ClassSSRFBlocked:
		if t.ip {
			return "the endpoint's IP address is one Herald does not deliver to (loopback, private, link-local or reserved)"
		}
		return t.host + " resolves to an address Herald does not deliver to (loopback, private, link-local or reserved)"
	case delivery.ClassDNS:
		if dnsErr, ok := errors.AsType[*net.DNSError](err); ok {
			switch {
			case dnsErr.IsNotFound:
				return "could not resolve host " + t.host + ": no such host"
			case dnsErr.IsTimeout:
				return "could not resolve host " + t.host + ": the DNS query timed out"
			}
		}
		return "could not resolve host " + t.host
	case delivery.ClassTimeout:
		switch {
		case errors.Is(ctxErr, context.Canceled):
			return "the attempt was stopped before " + t.host + " answered (Herald was shutting down); it will be retried"
		case ctxErr != nil:
			return "no response within " + timeout.String()
		}
		return "connecting to " + t.hostPort + " timed out"
	case delivery.ClassConnectionRefused:
		return "connection refused by " + t.hostPort
	case delivery.ClassTLS:
		return "TLS handshake with " + t.host + " failed: " + tlsReason(err)
	}
	if !t.valid {
		return "the endpoint URL is not an absolute http or https URL"
	}
	return "connection to " + t.hostPort + " failed" + connectionReason(err)
}

// tlsReason names what went wrong in a handshake from the error's type
// only: certificate names and alert texts come from the peer.
func tlsReason(err error) string {
	var invalid x509.CertificateInvalidError
	switch {
	case is[x509.HostnameError](err):
		return "the certificate does not match the host"
	case is[x509.UnknownAuthorityError](err):
		return "the certificate is not trusted (unknown authority)"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the certificate has expired or is not yet valid"
	case errors.As(err, &invalid), is[*tls.CertificateVerificationError](err), is[x509.SystemRootsError](err),
		is[x509.ConstraintViolationError](err), is[x509.UnhandledCriticalExtension](err), is[x509.InsecureAlgorithmError](err):
		return "the certificate is not valid"
	case is[tls.RecordHeaderError](err), errors.Is(err, http.ErrSchemeMismatch):
		return "the server does not speak TLS on this port (plain HTTP behind an https URL?)"
	case isRemoteAlert(err):
		return "the server refused the handshake with a TLS alert"
	}
	return "the handshake did not complete"
}

// connectionReason adds the reason a connection failed when the error's
// structure tells it.
func connectionReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return ": the connection was reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return ": the host is unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ": the connection was closed before a response arrived"
	}
	return ""
}
