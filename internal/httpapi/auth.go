package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldpay/herald/account"
)

// KeyAuthenticator resolves a secret API key to its merchant.
type KeyAuthenticator interface {
	// Authenticate returns the merchant owning key and the key's id.
	// Errors: account.ErrInvalidKey for unknown, malformed, revoked or
	// expired keys.
	Authenticate(ctx context.Context, key string) (account.KeyRef, error)
}

// MerchantID returns the merchant RequireKey authenticated, or "".
func MerchantID(ctx context.Context) string {
	v, _ := ctx.Value(merchantIDKey).(string)
	return v
}

// KeyID returns the id of the API key RequireKey authenticated, or "".
func KeyID(ctx context.Context) string {
	v, _ := ctx.Value(keyIDKey).(string)
	return v
}

// WithMerchantID returns ctx carrying merchantID, as RequireKey does.
func WithMerchantID(ctx context.Context, merchantID string) context.Context {
	return context.WithValue(ctx, merchantIDKey, merchantID)
}

// WithKey returns ctx carrying the merchant and key of ref, as RequireKey
// does.
func WithKey(ctx context.Context, ref account.KeyRef) context.Context {
	return context.WithValue(WithMerchantID(ctx, ref.MerchantID), keyIDKey, ref.KeyID)
}

// RequireKey authenticates every request by its secret key, sent as
// "Authorization: Bearer sk_test_…" or as the Basic-auth user name (curl -u
// sk_test_…:), and stores the merchant id in the context.
//
// A request without a key or with an invalid one counts against its
// client in failures; a client that has used up its failed attempts is
// answered 429 with Retry-After, before its key is even looked at, until
// its window ends, so guessing keys costs neither a database query nor
// anything but time. A nil failures turns this off.
func RequireKey(auth KeyAuthenticator, failures *AuthFailures, logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			client := ClientAddr(r)
			if failures != nil {
				if wait, blocked := failures.Blocked(client); blocked {
					w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
					WriteError(w, r, logger, &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: "auth_rate_limit",
						Message: "Too many requests with a missing or invalid API key from this address. Retry after the number of seconds in Retry-After."})
					return
				}
			}
			fail := func(err *Error) {
				if failures != nil {
					failures.Fail(client)
				}
				WriteError(w, r, logger, err)
			}
			key := ""
			if user, _, ok := r.BasicAuth(); ok {
				key = user
			} else if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				key = strings.TrimSpace(v)
			}
			if key == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
				fail(&Error{Status: http.StatusUnauthorized, Type: TypeAuthentication, Code: "api_key_missing",
					Message: "No API key provided. Send your secret key as \"Authorization: Bearer sk_test_…\"."})
				return
			}
			ref, err := auth.Authenticate(r.Context(), key)
			if errors.Is(err, account.ErrInvalidKey) {
				fail(&Error{Status: http.StatusUnauthorized, Type: TypeAuthentication, Code: "api_key_invalid",
					Message: "Invalid API key provided: " + redactKey(key) + "."})
				return
			}
			if err != nil {
				WriteError(w, r, logger, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithKey(r.Context(), ref)))
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
