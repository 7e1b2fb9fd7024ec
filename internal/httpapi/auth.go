package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/heraldpay/herald/internal/account"
)

// KeyAuthenticator resolves a secret API key to its merchant.
type KeyAuthenticator interface {
	// Authenticate returns the merchant id owning key. Errors:
	// account.ErrInvalidKey for unknown, malformed or revoked keys.
	Authenticate(ctx context.Context, key string) (string, error)
}

// MerchantID returns the merchant RequireKey authenticated, or "".
func MerchantID(ctx context.Context) string {
	v, _ := ctx.Value(merchantIDKey).(string)
	return v
}

// WithMerchantID returns ctx carrying merchantID, as RequireKey does.
func WithMerchantID(ctx context.Context, merchantID string) context.Context {
	return context.WithValue(ctx, merchantIDKey, merchantID)
}

// RequireKey authenticates every request by its secret key, sent as
// "Authorization: Bearer sk_test_…" or as the Basic-auth user name (curl -u
// sk_test_…:), and stores the merchant id in the context.
func RequireKey(auth KeyAuthenticator, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := ""
			if user, _, ok := r.BasicAuth(); ok {
				key = user
			} else if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				key = strings.TrimSpace(v)
			}
			if key == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
				WriteError(w, r, logger, &Error{Status: http.StatusUnauthorized, Type: TypeAuthentication, Code: "api_key_missing",
					Message: "No API key provided. Send your secret key as \"Authorization: Bearer sk_test_…\"."})
				return
			}
			merchantID, err := auth.Authenticate(r.Context(), key)
			if errors.Is(err, account.ErrInvalidKey) {
				WriteError(w, r, logger, &Error{Status: http.StatusUnauthorized, Type: TypeAuthentication, Code: "api_key_invalid",
					Message: "Invalid API key provided: " + redactKey(key) + "."})
				return
			}
			if err != nil {
				WriteError(w, r, logger, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithMerchantID(r.Context(), merchantID)))
		})
	}
}

// redactKey shows enough of a key to recognise it: its prefix and last four.
func redactKey(key string) string {
	if len(key) < 12 {
		return "***"
	}
	prefix := key[:min(8, len(key)-4)]
	return prefix + "…" + key[len(key)-4:]
}
