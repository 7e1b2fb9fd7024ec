package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/validation"
)

type item struct {
	Name     string `json:"name"`
	Quantity *int64 `json:"quantity"`
}

type body struct {
	Items    []item            `json:"items"`
	Currency string            `json:"currency"`
	Metadata map[string]string `json:"metadata"`
	Enabled  bool              `json:"enabled"`
	Ignored  string            `json:"-"`
}

func TestDecode(t *testing.T) {
	t.Parallel()

	var dst body
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(
		`{"items":[{"name":"a","quantity":2}],"currency":"usd","metadata":{"k":"v"},"enabled":true}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	require.NoError(t, Decode(httptest.NewRecorder(), req, 1024, &dst))
	require.Equal(t, "a", dst.Items[0].Name)
	require.Equal(t, int64(2), *dst.Items[0].Quantity)
	require.Equal(t, map[string]string{"k": "v"}, dst.Metadata)
	require.True(t, dst.Enabled)
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name        string
		body        string
		contentType string
		status      int
		code        string
		param       string
		message     string
	}{
		{"empty", "  ", "", 400, "body_missing", "", "empty"},
		{"malformed", `{"currency": "usd",}`, "", 400, "json_invalid", "", "not valid JSON (at byte"},
		{"truncated", `{"currency": "usd"`, "", 400, "json_invalid", "", "ends too early"},
		{"array", `[1,2]`, "", 400, "json_invalid", "", "must be a JSON object"},
		{"trailing data", `{"currency":"usd"} {"x":1}`, "", 400, "json_invalid", "", "more data follows"},
		{"unknown field", `{"currency":"usd","colour":"red"}`, "", 400, "parameter_unknown", "colour", "unknown parameter: colour"},
		{"unknown nested field", `{"items":[{"name":"a"},{"name":"b","price":3}]}`, "", 400, "parameter_unknown", "items[1][price]", "items[1][price]"},
		{"ignored field is unknown", `{"Ignored":"x"}`, "", 400, "parameter_unknown", "Ignored", "Ignored"},
		{"string for integer", `{"items":[{"quantity":"2"}]}`, "", 400, "parameter_invalid_type", "items[0][quantity]", "expected an integer, got a string"},
		{"float for integer", `{"items":[{"quantity":2.5}]}`, "", 400, "parameter_invalid_integer", "items[0][quantity]", "whole number"},
		{"exponent for integer", `{"items":[{"quantity":1e3}]}`, "", 400, "parameter_invalid_integer", "items[0][quantity]", "whole number"},
		{"huge integer", `{"items":[{"quantity":99999999999999999999}]}`, "", 400, "parameter_invalid_integer", "items[0][quantity]", "out of range"},
		{"number for string", `{"currency":840}`, "", 400, "parameter_invalid_type", "currency", "expected a string, got a number"},
		{"object for array", `{"items":{"name":"a"}}`, "", 400, "parameter_invalid_type", "items", "expected an array, got an object"},
		{"number in map", `{"metadata":{"k":1}}`, "", 400, "parameter_invalid_type", "metadata[k]", "expected a string"},
		{"string for bool", `{"enabled":"yes"}`, "", 400, "parameter_invalid_type", "enabled", "expected a boolean"},
		{"NUL in a value", `{"currency":"us\u0000d"}`, "", 400, "parameter_invalid", "currency", "Invalid value for currency: control characters are not allowed."},
		{"raw DEL in a value", "{\"currency\":\"usd\x7f\"}", "", 400, "parameter_invalid", "currency", "control characters are not allowed"},
		{"C1 in a value", "{\"currency\":\"usd\u0085\"}", "", 400, "parameter_invalid", "currency", "control characters are not allowed"},
		{"tab in a nested value", `{"items":[{"name":"a"},{"name":"b\tc"}]}`, "", 400, "parameter_invalid", "items[1][name]", "Invalid value for items[1][name]"},
		{"bell in a map value", `{"metadata":{"note":"ding\u0007"}}`, "", 400, "parameter_invalid", "metadata[note]", "Invalid value for metadata[note]"},
		{"NUL in a map key", `{"metadata":{"no\u0000te":"x"}}`, "", 400, "parameter_invalid", "metadata", "Invalid key in metadata: control characters are not allowed."},
		{"NUL in a field name", `{"curr\u0000ency":"usd"}`, "", 400, "parameter_invalid", "", "Invalid parameter name: control characters are not allowed."},
		{"form encoded", `currency=usd`, "application/x-www-form-urlencoded", 415, "unsupported_media_type", "", "application/json"},
		{"too large", `{"currency":"` + strings.Repeat("x", 2000) + `"}`, "", 413, "body_too_large", "", "at most 1024 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			var dst body
			status, apiErr := answer(t, Decode(httptest.NewRecorder(), req, 1024, &dst))
			require.Equal(t, tt.status, status)
			require.Equal(t, TypeInvalidRequest, apiErr.Type)
			require.Equal(t, tt.code, apiErr.Code)
			require.Equal(t, tt.param, apiErr.Param)
			require.Contains(t, apiErr.Message, tt.message)
		})
	}
}

func TestDecodeAcceptsPrintableText(t *testing.T) {
	t.Parallel()

	var dst body
	require.NoError(t, DecodeBytes([]byte(`{"items":[{"name":"Café ☕, 50\u00a0cl — \"house\" blend"}],"metadata":{"ключ":"東京\u200b"}}`), &dst))
	require.Equal(t, "Café ☕, 50\u00a0cl — \"house\" blend", dst.Items[0].Name)
	require.Equal(t, map[string]string{"ключ": "東京\u200b"}, dst.Metadata)
}

func TestDecodeNullKeepsZero(t *testing.T) {
	t.Parallel()

	var dst body
	require.NoError(t, DecodeBytes([]byte(`{"items":[{"name":"a","quantity":null}],"metadata":null}`), &dst))
	require.Nil(t, dst.Items[0].Quantity)
	require.Nil(t, dst.Metadata)
}

func FuzzDecodeBytes(f *testing.F) {
	for _, seed := range []string{
		`{"items":[{"name":"a","quantity":2}],"currency":"usd"}`, `{"metadata":{"a":"b"}}`, `[]`, `{`, `{"items":[{"quantity":1e400}]}`,
		`{"metadata":{"k\u0000":"\u0085"}}`, "{\"currency\":\"\x7f\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var dst body
		err := DecodeBytes(data, &dst)
		if err != nil {
			status, _ := answer(t, err)
			require.Less(t, status, 500, "every decode error is the client's")
			return
		}
		// Whatever is accepted holds no control character anywhere.
		texts := []string{dst.Currency}
		for _, it := range dst.Items {
			texts = append(texts, it.Name)
		}
		for k, v := range dst.Metadata {
			texts = append(texts, k, v)
		}
		for _, s := range texts {
			require.False(t, validation.HasControl(s), "accepted %q", s)
		}
	})
}
