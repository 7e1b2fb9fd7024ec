package checkout

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOrigin(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		raw  string
		want string // "" when refused
	}{
		{"https://cdn.shop.test/mug.png", "https://cdn.shop.test"},
		{"http://127.0.0.1:8081/success?x=1", "http://127.0.0.1:8081"},
		{"HTTPS://CDN.Shop.Test:8443/a", "https://cdn.shop.test:8443"},
		{"https://[2001:db8::1]:443/x", "https://[2001:db8::1]:443"},
		{"https://xn--caf-dma.test/", "https://xn--caf-dma.test"},
		{"https://localhost/", "https://localhost"},
		{"https://a-b.c-d.test/{CHECKOUT_SESSION_ID}", "https://a-b.c-d.test"},
		// Hosts url.Parse accepts that would change the meaning of a CSP.
		{"https://cdn.test;script-src/x.png", ""},
		{"https://cdn.test;img-src:443/x.png", ""},
		{"https://cdn.test,evil.test/x.png", ""},
		{"https://cdn.test'/x.png", ""},
		{"https://*.test/x.png", ""},
		{"https://cdn_1.test/x.png", ""},
		{"https://café.test/x.png", ""},
		{"https://cdn.test%3Bscript-src/x.png", ""},
		{"https://-cdn.test/", ""},
		{"https://cdn-.test/", ""},
		{"https://cdn..test/", ""},
		{"https://cdn.test./", ""},
		{"https://" + strings.Repeat("a", 64) + ".test/", ""},
		{"https://" + strings.Repeat("a.", 127) + "test/", ""},
		{"https://cdn.test:/x", ""},
		{"https://cdn.test:0/x", ""},
		{"https://cdn.test:65536/x", ""},
		{"https://[fe80::1%25eth0]/x", ""},
		{"https:///x", ""},
		{"https:cdn.test", ""},
		{"ftp://cdn.test/x", ""},
		{"javascript:alert(1)", ""},
		{"/relative.png", ""},
	} {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()

			got, ok := Origin(tt.raw)
			require.Equal(t, tt.want != "", ok, "got %q", got)
			require.Equal(t, tt.want, got)
		})
	}
}
