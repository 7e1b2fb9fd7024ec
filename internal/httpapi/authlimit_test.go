package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/internal/clocktest"
	"github.com/heraldpay/herald/internal/pgtest"
)

func newTestClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()

	a4 := netip.MustParseAddr("203.0.113.7")
	b4 := netip.MustParseAddr("203.0.113.8")
	a6 := netip.MustParseAddr("2001:db8:1:2::1")

	t.Run("blocks after Limit failures until the window ends", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		f := NewAuthFailures(AuthFailuresConfig{Limit: 3, Now: clock.Now})
		for range 2 {
			f.Fail(a4)
			_, blocked := f.Blocked(a4)
			require.False(t, blocked)
		}
		clock.Advance(10 * time.Second)
		f.Fail(a4)
		wait, blocked := f.Blocked(a4)
		require.True(t, blocked)
		require.Equal(t, 50*time.Second, wait, "the window runs from the first failure")

		_, blocked = f.Blocked(b4)
		require.False(t, blocked, "another address is not affected")

		clock.Advance(50*time.Second - time.Nanosecond)
		_, blocked = f.Blocked(a4)
		require.True(t, blocked)
		clock.Advance(time.Nanosecond)
		_, blocked = f.Blocked(a4)
		require.False(t, blocked, "the window has passed")

		f.Fail(a4)
		_, blocked = f.Blocked(a4)
		require.False(t, blocked, "a new window starts with one failure")
	})

	t.Run("an IPv6 /64 is one client", func(t *testing.T) {
		t.Parallel()
		f := NewAuthFailures(AuthFailuresConfig{Limit: 2, Now: newTestClock().Now})
		f.Fail(a6)
		f.Fail(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
		_, blocked := f.Blocked(netip.MustParseAddr("2001:db8:1:2::42"))
		require.True(t, blocked)
		_, blocked = f.Blocked(netip.MustParseAddr("2001:db8:1:3::1"))
		require.False(t, blocked, "the next /64 is someone else")
	})

	t.Run("an IPv4-mapped address is the IPv4 client", func(t *testing.T) {
		t.Parallel()
		f := NewAuthFailures(AuthFailuresConfig{Limit: 1, Now: newTestClock().Now})
		f.Fail(netip.MustParseAddr("::ffff:203.0.113.7"))
		_, blocked := f.Blocked(a4)
		require.True(t, blocked)
	})

	t.Run("memory is bounded", func(t *testing.T) {
		t.Parallel()
		clock := newTestClock()
		f := NewAuthFailures(AuthFailuresConfig{Limit: 1, MaxClients: 2, Now: clock.Now})
		f.Fail(a4)
		f.Fail(b4)
		c4 := netip.MustParseAddr("203.0.113.9")
		f.Fail(c4)
		_, blocked := f.Blocked(c4)
		require.False(t, blocked, "a third client is not tracked while the first two are limited")
		_, blocked = f.Blocked(a4)
		require.True(t, blocked, "and does not push out one that is")

		clock.Advance(time.Minute)
		f.Fail(c4)
		_, blocked = f.Blocked(c4)
		require.True(t, blocked, "expired windows make room")
		require.Len(t, f.clients, 1)
	})
}

// countingAuth counts the key lookups that reach the real store.
type countingAuth struct {
	next  KeyAuthenticator
	calls atomic.Int32
}

func (c *countingAuth) Authenticate(ctx context.Context, key string) (account.KeyRef, error) {
	c.calls.Add(1)
	return c.next.Authenticate(ctx, key)
}

// RequireKey with a failure limit, against real keys in PostgreSQL: a
// client that used up its failures is refused before any lookup, whatever
// key it sends, while other clients carry on.
func TestRequireKeyLimitsFailuresPerClient(t *testing.T) {
	t.Parallel()

	store := accountpg.NewStore(pgtest.NewPool(t))
	_, key, err := store.Create(context.Background(), account.Merchant{Name: "Acme"})
	require.NoError(t, err)
	auth := &countingAuth{next: store}
	clock := newTestClock()
	const limit = 3
	failures := NewAuthFailures(AuthFailuresConfig{Limit: limit, Now: clock.Now})
	h := RequireKey(auth, failures, slog.New(slog.NewTextHandler(io.Discard, nil)))(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"merchant": MerchantID(r.Context())})
		}))
	call := func(remoteAddr, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/v1/events", nil)
		req.RemoteAddr = remoteAddr
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	const attacker, neighbour = "198.51.100.7:40000", "198.51.100.8:40000"

	require.Equal(t, http.StatusOK, call(attacker, key).Code, "a good key from the attacker's address works at first")
	require.Equal(t, http.StatusUnauthorized, call(attacker, "").Code, "a missing key counts")
	for range limit - 1 {
		require.Equal(t, http.StatusUnauthorized, call(attacker, "sk_test_guess").Code)
	}
	lookups := auth.calls.Load()

	clock.Advance(15 * time.Second)
	for _, k := range []string{"sk_test_guess", key, ""} {
		rec := call(attacker, k)
		require.Equal(t, http.StatusTooManyRequests, rec.Code)
		require.Equal(t, "45", rec.Header().Get("Retry-After"))
		var body struct{ Error Error }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, TypeRateLimit, body.Error.Type)
		require.Equal(t, "auth_rate_limit", body.Error.Code)
	}
	require.Equal(t, lookups, auth.calls.Load(), "a blocked client's keys are never looked up")

	require.Equal(t, http.StatusOK, call(neighbour, key).Code, "another address is unaffected")
	require.Equal(t, http.StatusUnauthorized, call(neighbour, "sk_test_guess").Code, "and gets a plain 401")

	clock.Advance(45 * time.Second)
	require.Equal(t, http.StatusOK, call(attacker, key).Code, "the window has passed")
}
