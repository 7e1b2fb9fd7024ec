package checkouthttp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/checkout"
)

// cspDirectives splits a policy into its directives, trimmed.
func cspDirectives(policy string) []string {
	var out []string
	for d := range strings.SplitSeq(policy, ";") {
		out = append(out, strings.TrimSpace(d))
	}
	return out
}

// The policy is built from the merchant's logo and the session's image and
// success URLs. Whatever those hold (session creation validates them, but a
// logo is set by the operator and rows may predate the validation), the
// header has exactly these six directives, and only clean origins in them.
func TestContentSecurityPolicy(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name       string
		logo       string
		images     []string
		successURL string
		img        string
		form       string
	}{
		{
			name:       "clean origins, each once",
			logo:       "https://cdn.shop.test/logo.png",
			images:     []string{"https://cdn.shop.test/mug.png", "http://127.0.0.1:8081/pen.png", "https://[2001:db8::1]/x.png"},
			successURL: "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}",
			img:        "img-src 'self' data: https://cdn.shop.test http://127.0.0.1:8081 https://[2001:db8::1]",
			form:       "form-action 'self' https://shop.test",
		},
		{
			name: "hosts that would add directives or sources are left out",
			logo: "https://logo.test;script-src 'unsafe-inline'/l.png",
			images: []string{
				"https://cdn.test;script-src/mug.png",
				"https://cdn.test,evil.test/pen.png",
				"https://cdn.test'/a.png",
				"https://*.evil.test/b.png",
				"https://cdn.test\x00/c.png",
				"https://ok.test/fine.png",
			},
			successURL: "https://shop.test;form-action *;/ok",
			img:        "img-src 'self' data: https://ok.test",
			form:       "form-action 'self'",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			sess := &checkout.Session{SuccessURL: tt.successURL}
			for _, img := range tt.images {
				sess.LineItems = append(sess.LineItems, checkout.LineItem{Name: "x", ImageURL: img})
			}
			policy := contentSecurityPolicy("bm9uY2U=", sess, account.Merchant{LogoURL: tt.logo})
			require.Equal(t, []string{
				"default-src 'none'",
				"style-src 'self' 'nonce-bm9uY2U='",
				tt.img,
				tt.form,
				"frame-ancestors 'none'",
				"base-uri 'none'",
			}, cspDirectives(policy))
		})
	}
}

// The state pages of an unknown session have no session to draw from.
func TestContentSecurityPolicyWithoutSession(t *testing.T) {
	t.Parallel()

	require.Equal(t, []string{
		"default-src 'none'", "style-src 'self' 'nonce-bm9uY2U='", "img-src 'self' data:",
		"form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
	}, cspDirectives(contentSecurityPolicy("bm9uY2U=", nil, account.Merchant{})))
}
