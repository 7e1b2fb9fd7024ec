package client

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Error types, as in Error.Type.
const (
	// ErrorTypeInvalidRequest means the request was wrong (400, 404, 409,
	// 413, 415); Code and Param say what. Sending it again will not help.
	ErrorTypeInvalidRequest = "invalid_request_error"
	// ErrorTypeAPI means a failure on Herald's side (500); RequestID
	// identifies it for support.
	ErrorTypeAPI = "api_error"
	// ErrorTypeAuthentication means the secret key is missing or invalid
	// (401).
	ErrorTypeAuthentication = "authentication_error"
	// ErrorTypeIdempotency means an Idempotency-Key was reused with a
	// different request (422), or its first request is still running (409,
	// returned only once the client's retries are spent).
	ErrorTypeIdempotency = "idempotency_error"
	// ErrorTypeRateLimit means the key is over its rate limit (429,
	// returned only once the client's retries are spent).
	ErrorTypeRateLimit = "rate_limit_error"
)

// Error is an error answer from Herald: its HTTP status and the body
// {"error":{"type","code","message","param"}}. When the body is not in that
// shape (a proxy's 502 page, say), Type and Code are empty and Message is
// generic.
//
// Match errors with errors.As, or with errors.Is and an *Error template
// (see Is):
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Param != "" { … }
//	if errors.Is(err, &client.Error{StatusCode: http.StatusNotFound}) { … }
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Type is one of the ErrorType constants.
	Type string
	// Code is the specific problem, such as "parameter_missing",
	// "resource_missing" or "api_key_invalid".
	Code string
	// Message is for humans: log it, do not match on it.
	Message string
	// Param names the parameter at fault, in bracket notation
	// (line_items[0][unit_amount]); empty when no parameter is.
	Param string
	// RequestID is the answer's Request-Id header: quote it to support.
	RequestID string
}

// Error formats the status, type, code, message, parameter and request id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("herald: ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Code != "" {
		b.WriteString("/" + e.Code)
	}
	b.WriteString(": " + e.Message)
	var details []string
	if e.Param != "" {
		details = append(details, "param "+e.Param)
	}
	if e.RequestID != "" {
		details = append(details, "request id "+e.RequestID)
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	return b.String()
}

// Is reports whether target is an *Error whose non-zero StatusCode, Type
// and Code all equal e's, so that errors.Is(err, &Error{Type:
// ErrorTypeRateLimit}) asks "was it rate limited?" without a type switch.
// Message, Param and RequestID are not compared. A zero &Error{} matches
// every API error (and no transport error).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	return (t.StatusCode == 0 || t.StatusCode == e.StatusCode) &&
		(t.Type == "" || t.Type == e.Type) &&
		(t.Code == "" || t.Code == e.Code)
}

// newError reads a non-2xx answer. Anything the server echoed of the secret
// key is masked, so the error can be logged.
func (c *Client) newError(resp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("Request-Id")}
	var envelope struct {
		Error *struct {
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &envelope); err == nil && envelope.Error != nil && envelope.Error.Message != "" {
		e.Type, e.Code = envelope.Error.Type, envelope.Error.Code
		e.Message, e.Param = c.redact(envelope.Error.Message), c.redact(envelope.Error.Param)
		return e
	}
	e.Message = fmt.Sprintf("unexpected answer %s without an API error body", statusText(resp.StatusCode))
	return e
}

// redact masks the secret key in s. Herald itself never echoes a whole
// key; this guards against anything between it and the caller that might.
func (c *Client) redact(s string) string {
	if c.secretKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.secretKey, "[redacted]")
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}
