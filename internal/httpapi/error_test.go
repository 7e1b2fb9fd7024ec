package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/validation"
)

// answer writes err as a handler would and returns what the client gets:
// the status and the body's error.
func answer(t *testing.T, err error) (int, Error) {
	t.Helper()
	rec := httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), slog.New(slog.DiscardHandler), err)
	var body struct{ Error Error }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return rec.Code, body.Error
}

// WriteError is the one place an error becomes a status and a body.
func TestWriteError(t *testing.T) {
	t.Parallel()

	invalid := &validation.Error{Param: "line_items[0][quantity]", Code: validation.CodeInvalid, Message: "must be between 1 and 1000"}
	for _, tt := range []struct {
		name   string
		err    error
		status int
		want   Error
	}{
		{"validation error", invalid, http.StatusBadRequest,
			Error{Type: TypeInvalidRequest, Code: "parameter_invalid", Param: "line_items[0][quantity]", Message: "must be between 1 and 1000"}},
		{"wrapped validation error", fmt.Errorf("create session: %w", invalid), http.StatusBadRequest,
			Error{Type: TypeInvalidRequest, Code: "parameter_invalid", Param: "line_items[0][quantity]", Message: "must be between 1 and 1000"}},
		{"validation error without a parameter", &validation.Error{Code: "json_invalid", Message: "The request body must be a JSON object."},
			http.StatusBadRequest, Error{Type: TypeInvalidRequest, Code: "json_invalid", Message: "The request body must be a JSON object."}},
		{"API error", NotFound("No such object: 'we_1'."), http.StatusNotFound,
			Error{Type: TypeInvalidRequest, Code: "resource_missing", Message: "No such object: 'we_1'."}},
		{"conflict", &Error{Status: http.StatusConflict, Type: TypeInvalidRequest, Code: "redrive_finished", Message: "done"},
			http.StatusConflict, Error{Type: TypeInvalidRequest, Code: "redrive_finished", Message: "done"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			status, got := answer(t, tt.err)
			require.Equal(t, tt.status, status)
			require.Equal(t, tt.want, got)
		})
	}
}

// Anything else is the server's fault: a 500 that says nothing of the
// cause, whose log line carries the cause and the request id.
func TestWriteErrorInternal(t *testing.T) {
	t.Parallel()

	var logs bytes.Buffer
	rec := httptest.NewRecorder()
	var reqID string
	RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID = RequestID(r.Context())
		WriteError(w, r, slog.New(slog.NewTextHandler(&logs, nil)), errors.New("pq: relation \"secret_table\" does not exist"))
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/things", nil))

	require.Equal(t, http.StatusInternalServerError, rec.Code)
	var body struct{ Error Error }
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, TypeAPI, body.Error.Type)
	require.Equal(t, "internal_error", body.Error.Code)
	require.Contains(t, body.Error.Message, reqID)
	require.NotContains(t, rec.Body.String(), "secret_table")
	require.Contains(t, logs.String(), "secret_table")
	require.Contains(t, logs.String(), reqID)
}
