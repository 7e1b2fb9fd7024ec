package client

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorAnswers(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		ans  answer
		want Error
	}{
		{
			name: "400 with param",
			ans: answer{status: 400, header: map[string]string{"Request-Id": "req_8Xw2"}, body: apiError(
				"invalid_request_error", "parameter_invalid_type",
				"Invalid type for line_items[0][unit_amount]: expected an integer, got a string.", "line_items[0][unit_amount]")},
			want: Error{StatusCode: 400, Type: ErrorTypeInvalidRequest, Code: "parameter_invalid_type",
				Message: "Invalid type for line_items[0][unit_amount]: expected an integer, got a string.",
				Param:   "line_items[0][unit_amount]", RequestID: "req_8Xw2"},
		},
		{
			name: "401, server redacts the key",
			ans: answer{status: 401, body: `{"error":{"type":"authentication_error","code":"api_key_invalid",` +
				`"message":"Invalid API key provided: sk_test_…6789."}}`},
			want: Error{StatusCode: 401, Type: ErrorTypeAuthentication, Code: "api_key_invalid",
				Message: "Invalid API key provided: sk_test_…6789."},
		},
		{
			name: "401, something echoes the whole key",
			ans: answer{status: 401, body: apiError("authentication_error", "api_key_invalid",
				"Invalid API key provided: "+testKey+".", "")},
			want: Error{StatusCode: 401, Type: ErrorTypeAuthentication, Code: "api_key_invalid",
				Message: "Invalid API key provided: [redacted]."},
		},
		{
			name: "404",
			ans: answer{status: 404, header: map[string]string{"Request-Id": "req_404"},
				body: apiError("invalid_request_error", "resource_missing", "No such checkout session: 'cs_nope'.", "")},
			want: Error{StatusCode: 404, Type: ErrorTypeInvalidRequest, Code: "resource_missing",
				Message: "No such checkout session: 'cs_nope'.", RequestID: "req_404"},
		},
		{
			name: "409 session complete",
			ans: answer{status: 409, body: apiError("invalid_request_error", "session_complete",
				"This checkout session is already complete and cannot be expired.", "")},
			want: Error{StatusCode: 409, Type: ErrorTypeInvalidRequest, Code: "session_complete",
				Message: "This checkout session is already complete and cannot be expired."},
		},
		{
			name: "422 idempotency key reused",
			ans:  answer{status: 422, body: apiError("idempotency_error", "idempotency_key_reused", "Keys for idempotent requests…", "")},
			want: Error{StatusCode: 422, Type: ErrorTypeIdempotency, Code: "idempotency_key_reused", Message: "Keys for idempotent requests…"},
		},
		{
			name: "non-JSON 502 from a proxy",
			ans: answer{status: 502, header: map[string]string{"Request-Id": "req_gw"},
				body: "<html><body>Bad Gateway " + testKey + "</body></html>"},
			want: Error{StatusCode: 502, Message: "unexpected answer 502 Bad Gateway without an API error body", RequestID: "req_gw"},
		},
		{
			name: "JSON that is not an API error",
			ans:  answer{status: 418, body: `{"hello":"world"}`},
			want: Error{StatusCode: 418, Message: "unexpected answer 418 I'm a teapot without an API error body"},
		},
		{
			name: "empty body",
			ans:  answer{status: 403},
			want: Error{StatusCode: 403, Message: "unexpected answer 403 Forbidden without an API error body"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, tt.ans)
			_, err := f.client(WithMaxRetries(0)).Sessions.Get(testContext(t), "cs_nope")
			var apiErr *Error
			ok := errors.As(err, &apiErr)
			require.True(t, ok, "%T %v", err, err)
			require.Equal(t, tt.want, *apiErr)
			require.NotContains(t, err.Error(), testKey)
			require.Contains(t, err.Error(), tt.want.Message)
		})
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		err  Error
		want string
	}{
		{
			name: "everything",
			err: Error{StatusCode: 400, Type: ErrorTypeInvalidRequest, Code: "parameter_missing", Message: "currency is required",
				Param: "currency", RequestID: "req_1"},
			want: "herald: 400 invalid_request_error/parameter_missing: currency is required (param currency, request id req_1)",
		},
		{
			name: "no param",
			err:  Error{StatusCode: 429, Type: ErrorTypeRateLimit, Code: "rate_limit", Message: "Too many requests.", RequestID: "req_2"},
			want: "herald: 429 rate_limit_error/rate_limit: Too many requests. (request id req_2)",
		},
		{
			name: "not an API body",
			err:  Error{StatusCode: 502, Message: "unexpected answer 502 Bad Gateway without an API error body"},
			want: "herald: 502: unexpected answer 502 Bad Gateway without an API error body",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestErrorIs(t *testing.T) {
	t.Parallel()

	notFound := &Error{StatusCode: http.StatusNotFound, Type: ErrorTypeInvalidRequest, Code: "resource_missing", Message: "No such…"}
	for _, tt := range []struct {
		name   string
		target error
		want   bool
	}{
		{"status", &Error{StatusCode: http.StatusNotFound}, true},
		{"type", &Error{Type: ErrorTypeInvalidRequest}, true},
		{"type and code", &Error{Type: ErrorTypeInvalidRequest, Code: "resource_missing"}, true},
		{"any API error", &Error{}, true},
		{"other status", &Error{StatusCode: http.StatusConflict}, false},
		{"other type", &Error{Type: ErrorTypeRateLimit}, false},
		{"right status, other code", &Error{StatusCode: http.StatusNotFound, Code: "parameter_missing"}, false},
		{"nil template", (*Error)(nil), false},
		{"not an Error", errors.New("no"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			wrapped := errors.Join(errors.New("context"), notFound)
			require.Equal(t, tt.want, errors.Is(wrapped, tt.target))
		})
	}
}
