// Package httpapi is the plumbing shared by Herald's JSON APIs: the error
// shape, strict request decoding, API-key authentication, request ids,
// logging, panics, rate limits and list paging.
package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/heraldpay/herald/internal/validation"
)

// Error types, as in the "type" field of every error body.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAPI            = "api_error"
	TypeAuthentication = "authentication_error"
	TypeIdempotency    = "idempotency_error"
	TypeRateLimit      = "rate_limit_error"
)

// Error is an API error: its HTTP status and the body
// {"error":{"type","code","message","param"}}.
type Error struct {
	Status  int    `json:"-"`
	Type    string `json:"type"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// NotFound returns a 404 resource_missing error.
func NotFound(message string) *Error {
	return &Error{Status: http.StatusNotFound, Type: TypeInvalidRequest, Code: "resource_missing", Message: message}
}

// WriteJSON writes v as the JSON body with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

// WriteError writes err in the API error shape. A *validation.Error (the
// one way to say a request is invalid, from the domain packages and from
// this one alike) becomes a 400 invalid_request_error naming the
// parameter; an *Error (every other status) is written as is; anything
// else is an internal error: logged with the request id, and answered with
// a generic 500 that carries only that id.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	var apiErr *Error
	var verr *validation.Error
	if errors.As(err, &verr) {
		apiErr = &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Code: verr.Code, Param: verr.Param,
			Message: verr.Message}
	} else if !errors.As(err, &apiErr) {
		reqID := RequestID(r.Context())
		logger.ErrorContext(r.Context(), "internal error", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "err", err)
		apiErr = &Error{Status: http.StatusInternalServerError, Type: TypeAPI, Code: "internal_error",
			Message: "An internal error occurred. If it persists, contact support with request id " + reqID + "."}
	}
	WriteJSON(w, apiErr.Status, map[string]*Error{"error": apiErr})
}
