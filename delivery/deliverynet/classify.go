package deliverynet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"iter"
	"net"
	"net/http"
	"syscall"

	"github.com/heraldpay/herald/delivery"
)

// Classify returns the class of an error that prevented an attempt from
// getting an answer; ClassNone for nil. It inspects the error chain with
// errors.Is and errors.As only, never the message. The first matching rule
// wins:
//
//   - ClassSSRFBlocked: the guard refused the address (delivery.ErrSSRFBlocked).
//   - ClassTimeout: a context deadline or cancellation.
//   - ClassDNS: name resolution failed (*net.DNSError), "no such host"
//     included; a DNS server that is merely slow is a DNS problem too.
//   - ClassTimeout: any other net.Error timeout (connect, TLS handshake,
//     waiting for headers).
//   - ClassConnectionRefused: ECONNREFUSED.
//   - ClassTLS: certificate verification, a peer that does not speak TLS,
//     or a TLS alert from the peer.
//   - ClassConnection: everything else (reset, EOF, unreachable, malformed
//     response or URL).
func Classify(err error) delivery.ErrorClass {
	switch {
	case err == nil:
		return delivery.ClassNone
	case errors.Is(err, delivery.ErrSSRFBlocked):
		return delivery.ClassSSRFBlocked
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return delivery.ClassTimeout
	case is[*net.DNSError](err):
		return delivery.ClassDNS
	case isTimeout(err):
		return delivery.ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return delivery.ClassConnectionRefused
	case isTLS(err):
		return delivery.ClassTLS
	}
	return delivery.ClassConnection
}

// is reports whether err's chain holds an error of type T.
func is[T error](err error) bool {
	_, ok := errors.AsType[T](err)
	return ok
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

func isTLS(err error) bool {
	return is[*tls.CertificateVerificationError](err) ||
		is[x509.UnknownAuthorityError](err) ||
		is[x509.HostnameError](err) ||
		is[x509.CertificateInvalidError](err) ||
		is[x509.SystemRootsError](err) ||
		is[x509.ConstraintViolationError](err) ||
		is[x509.UnhandledCriticalExtension](err) ||
		is[x509.InsecureAlgorithmError](err) ||
		is[tls.RecordHeaderError](err) ||
		// http.Client's rewording of a RecordHeaderError that starts with
		// "HTTP/": an https URL whose server speaks plain HTTP.
		errors.Is(err, http.ErrSchemeMismatch) ||
		is[tls.AlertError](err) ||
		is[*tls.ECHRejectionError](err) ||
		isRemoteAlert(err)
}

// isRemoteAlert reports whether err is a TLS alert sent by the peer (for
// example "certificate required" when the endpoint wants a client
// certificate). crypto/tls reports those as a *net.OpError whose Op is
// "remote error" around an unexported alert type; the Op field is the only
// structured way to recognise them.
func isRemoteAlert(err error) bool {
	for e := range errorTree(err) {
		if op, ok := e.(*net.OpError); ok && op.Op == "remote error" { //nolint:errorlint // e is one node of the walked tree
			return true
		}
	}
	return false
}

// errorTree yields err and every error it wraps, depth first, following
// both Unwrap() error and Unwrap() []error as errors.As does, because
// errors.As stops at the first *net.OpError while the alert may sit in a
// deeper one.
func errorTree(err error) iter.Seq[error] {
	return func(yield func(error) bool) {
		walkErrors(err, yield)
	}
}

func walkErrors(err error, yield func(error) bool) bool {
	if err == nil {
		return true
	}
	if !yield(err) {
		return false
	}
	switch u := err.(type) { //nolint:errorlint // this is the unwrapping walk itself
	case interface{ Unwrap() error }:
		return walkErrors(u.Unwrap(), yield)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if !walkErrors(e, yield) {
				return false
			}
		}
	}
	return true
}
