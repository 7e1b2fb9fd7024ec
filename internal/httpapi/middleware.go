package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/heraldpay/herald/internal/id"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	merchantIDKey
	clientAddrKey
	keyIDKey
)

// RequestID returns the id RequestIDs gave the request, or "".
func RequestID(ctx context.Context) string {
	v, _ := ctx.Value(requestIDKey).(string)
	return v
}

// maxRequestIDLen bounds an X-Request-Id taken from the client.
const maxRequestIDLen = 128

// RequestIDs gives every request an id, sent back in the Request-Id header
// and attached to log lines, so a customer's report can be matched with the
// server's logs. An X-Request-Id set by the client or by a proxy in front
// (a load balancer's trace id) is kept when it is 1 to 128 printable ASCII
// characters without spaces, so that one id follows the request through
// every hop; anything else is replaced by a new req_… id, since the id is
// written to logs as it is.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := r.Header.Get("X-Request-Id")
		if !validRequestID(reqID) {
			reqID = id.New("req")
		}
		w.Header().Set("Request-Id", reqID)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, reqID)))
	})
}

// validRequestID reports whether s is 1 to maxRequestIDLen visible ASCII
// characters (0x21 to 0x7e).
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := range len(s) {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// StatusRecorder is a ResponseWriter that remembers the status written, for
// middleware that logs or audits the outcome of a request.
type StatusRecorder struct {
	http.ResponseWriter
	// Status is the status written, or 0 before anything was.
	Status int
}

// WriteHeader implements http.ResponseWriter.
func (s *StatusRecorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// StatusOrOK is the status the client got once the handler has returned:
// Status, or 200 when the handler wrote nothing (net/http answers 200).
func (s *StatusRecorder) StatusOrOK() int {
	if s.Status == 0 {
		return http.StatusOK
	}
	return s.Status
}

// AccessLog logs one line per request: method, path, status, duration and
// request id. Never bodies, query strings or headers: they may carry card
// data, keys or payloads.
func AccessLog(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &StatusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", rec.Status),
				slog.Duration("duration", time.Since(start)), slog.String("request_id", RequestID(r.Context())))
		})
	}
}

// Recover turns a panic into a 500 in the API error shape and logs the
// stack (not the request).
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler { //nolint:errorlint // the sentinel is compared by identity, as net/http does
					panic(rec)
				}
				logger.ErrorContext(r.Context(), "panic", "request_id", RequestID(r.Context()), "panic", rec, "stack", string(debug.Stack()))
				WriteError(w, r, logger, &Error{Status: http.StatusInternalServerError, Type: TypeAPI, Code: "internal_error",
					Message: "An internal error occurred. If it persists, contact support with request id " + RequestID(r.Context()) + "."})
			}()
			next.ServeHTTP(w, r)
		})
	}
}
