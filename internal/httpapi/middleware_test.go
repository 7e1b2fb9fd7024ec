package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/id"
)

// A client's X-Request-Id is kept when it is safe to log as it is;
// anything else gets a new req_… id. Either way the handler sees the id
// the answer's Request-Id carries.
func TestRequestIDs(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name, header string
		kept         bool
	}{
		{"none", "", false},
		{"uuid from a load balancer", "3f2b8c1e-7d4a-4f0e-9a51-2c6d8e0b1a77", true},
		{"visible punctuation", "Root=1-67891233-abcdef012345678912345678;Sampled=1", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"129 characters", strings.Repeat("a", 129), false},
		{"space", "req 1", false},
		{"newline, a forged log line", "req1\nlevel=ERROR msg=forged", false},
		{"tab", "req\t1", false},
		{"delete character", "req\x7f", false},
		{"non-ASCII", "req-é", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var seen string
			h := RequestIDs(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = RequestID(r.Context()) }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				req.Header.Set("X-Request-Id", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("Request-Id")
			require.Equal(t, seen, got)
			if tt.kept {
				require.Equal(t, tt.header, got)
				return
			}
			require.True(t, id.HasPrefix(got, "req"), "a new id: %q", got)
		})
	}
}
