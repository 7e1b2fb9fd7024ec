package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckQuery(t *testing.T) {
	t.Parallel()

	reached := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := CheckQuery(slog.New(slog.NewTextHandler(io.Discard, nil)))(reached)
	for _, tt := range []struct {
		name     string
		rawQuery string
		param    string // "" with a 204 wanted when message is empty
		message  string
	}{
		{"none", "", "", ""},
		{"plain", "limit=10&starting_after=cs_123&type=checkout.session.completed", "", ""},
		{"escaped unicode", "type=caf%C3%A9%20%E2%98%95", "", ""},
		{"empty value", "status=", "", ""},
		{"NUL in a value", "endpoint_id=%00", "endpoint_id", "Invalid value for the query parameter endpoint_id: control characters and invalid UTF-8 are not allowed."},
		{"NUL after a good value", "limit=2&starting_after=cs_1%00", "starting_after", "starting_after"},
		{"newline", "type=a%0Ab", "type", "type"},
		{"DEL", "status=%7F", "status", "status"},
		{"C1", "status=%C2%85", "status", "status"},
		{"invalid UTF-8", "event_id=%FF%FE", "event_id", "event_id"},
		{"second value of a name", "type=ok&type=%00", "type", "type"},
		{"NUL in a name", "ty%00pe=x", "", "Invalid query parameter name: control characters and invalid UTF-8 are not allowed."},
		{"invalid UTF-8 in a name", "%FF=x", "", "Invalid query parameter name"},
		{"bad escape", "limit=%zz", "", "The query string is malformed"},
		{"semicolon", "limit=1;type=x", "", "The query string is malformed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := httptest.NewRequest(http.MethodGet, "/v1/events", nil)
			req.URL.RawQuery = tt.rawQuery
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if tt.message == "" {
				require.Equal(t, http.StatusNoContent, rec.Code, rec.Body.String())
				return
			}
			require.Equal(t, http.StatusBadRequest, rec.Code)
			var got struct{ Error Error }
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			require.Equal(t, TypeInvalidRequest, got.Error.Type)
			require.Equal(t, "parameter_invalid", got.Error.Code)
			require.Equal(t, tt.param, got.Error.Param)
			require.Contains(t, got.Error.Message, tt.message)
			require.NotContains(t, rec.Body.String(), `\u0000`, "the bad bytes are not echoed")
		})
	}
}
