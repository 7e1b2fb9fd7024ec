package accounthttp_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accounthttp"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/internal/apitest"
	"github.com/heraldpay/herald/internal/clocktest"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/pgtest"
)

// testBundle is the API key routes on a real server, behind the real key
// check of the real account store (its clock settable), with two
// merchants.
type testBundle struct {
	url   string
	pool  *pgxpool.Pool
	clock *clocktest.Clock
	acme  string
	// globex is another merchant: nothing acme does touches its keys.
	globex    string
	acmeKey   string
	globexKey string
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	b := &testBundle{pool: pgtest.NewPool(t), clock: clocktest.New(time.Now().Truncate(time.Second))}
	store := accountpg.NewStore(b.pool)
	store.Now = b.clock.Now
	for _, m := range []struct{ id, key *string }{{&b.acme, &b.acmeKey}, {&b.globex, &b.globexKey}} {
		created, key, err := store.Create(ctx, account.Merchant{Name: "Merchant"})
		require.NoError(t, err)
		*m.id, *m.key = created.ID, key
	}
	logger := slog.New(slog.DiscardHandler)
	r := chi.NewRouter()
	r.Use(httpapi.RequestIDs, httpapi.Recover(logger))
	r.Route("/v1", func(r chi.Router) {
		r.Use(httpapi.RequireKey(store, nil, logger))
		(&accounthttp.API{Keys: store, Logger: logger}).Register(r)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// do sends method path with key, body as JSON unless it is "", and holds
// the exchange to api/openapi.yaml.
func (b *testBundle) do(t *testing.T, key, method, path, body string) apitest.Reply {
	t.Helper()
	var sent any
	if body != "" {
		sent = body
	}
	r := apitest.Do(t, method, b.url+path, key, sent)
	require.NotNil(t, r.Body, "a JSON answer: %s", r.Raw)
	return r
}

// works reports whether key gets through the key check.
func (b *testBundle) works(t *testing.T, key string) bool {
	t.Helper()
	r := b.do(t, key, http.MethodGet, "/v1/api_keys", "")
	if r.Status != http.StatusOK {
		require.Equal(t, http.StatusUnauthorized, r.Status, r.Body)
		require.Equal(t, "api_key_invalid", r.ErrorField("code"))
	}
	return r.Status == http.StatusOK
}

// keyIDs lists a merchant's keys through the API: id → status.
func (b *testBundle) keys(t *testing.T, key string) map[string]map[string]any {
	t.Helper()
	r := b.do(t, key, http.MethodGet, "/v1/api_keys", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, "list", r.Body["object"])
	out := map[string]map[string]any{}
	for _, v := range r.Body["data"].([]any) {
		k := v.(map[string]any)
		require.Equal(t, "api_key", k["object"])
		require.NotContains(t, k, "secret", "a list never shows a key")
		out[k["id"].(string)] = k
	}
	return out
}

// Rolling the key in use: the answer shows the new key once and the old
// one's expiry; the old key works for the overlap and fails after it; the
// other merchant's keys are untouched.
func TestRollKey(t *testing.T) {
	t.Parallel()

	b := setup(t)
	before := b.keys(t, b.acmeKey)
	require.Len(t, before, 1)
	var oldID string
	for id, k := range before {
		oldID = id
		require.Equal(t, "active", k["status"])
		require.Equal(t, account.KeyHint(b.acmeKey), k["hint"])
		require.Nil(t, k["expires_at"])
	}

	r := b.do(t, b.acmeKey, http.MethodPost, "/v1/api_keys/roll", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	newKey, _ := r.Body["secret"].(string)
	require.True(t, strings.HasPrefix(newKey, account.KeyPrefix), r.Body)
	require.Equal(t, "active", r.Body["status"])
	prev := r.Body["previous"].(map[string]any)
	require.Equal(t, oldID, prev["id"])
	require.Equal(t, "expiring", prev["status"])
	require.Equal(t, float64(b.clock.Now().Add(24*time.Hour).Unix()), prev["expires_at"], "default overlap: 24 h")
	require.NotContains(t, prev, "secret")

	after := b.keys(t, newKey)
	require.Len(t, after, 2)
	require.Equal(t, "expiring", after[oldID]["status"])

	b.clock.Advance(24*time.Hour - time.Second)
	require.True(t, b.works(t, b.acmeKey), "the old key works during the overlap")
	b.clock.Advance(time.Second)
	require.False(t, b.works(t, b.acmeKey), "and fails once it is over")
	require.True(t, b.works(t, newKey))
	require.Equal(t, "expired", b.keys(t, newKey)[oldID]["status"])

	others := b.keys(t, b.globexKey)
	require.Len(t, others, 1, "the other merchant sees only its own key, still active")
	for _, k := range others {
		require.Equal(t, "active", k["status"])
	}
	require.True(t, b.works(t, b.globexKey))
}

// expire_previous_in 0 ends the old key at once; out-of-range or malformed
// values are refused with 400 naming the parameter, and roll nothing.
func TestRollKeyOverlap(t *testing.T) {
	t.Parallel()

	b := setup(t)
	for _, body := range []string{`{"expire_previous_in": -1}`, `{"expire_previous_in": 604801}`, `{"expire_previous_in": 1e30}`,
		`{"expire_previous_in": "soon"}`} {
		r := b.do(t, b.acmeKey, http.MethodPost, "/v1/api_keys/roll", body)
		require.Equal(t, http.StatusBadRequest, r.Status, body)
		require.Equal(t, "expire_previous_in", r.ErrorField("param"), body)
	}
	require.Len(t, b.keys(t, b.acmeKey), 1, "nothing was rolled")

	r := b.do(t, b.acmeKey, http.MethodPost, "/v1/api_keys/roll", `{"expire_previous_in": 0}`)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, "expired", r.Body["previous"].(map[string]any)["status"])
	require.False(t, b.works(t, b.acmeKey), "no overlap: the old key fails at once")
	require.True(t, b.works(t, r.Body["secret"].(string)))
}

// Revoking ends a key at once (401 on its next request), never the last
// key that does not expire, and never another merchant's.
func TestRevokeKey(t *testing.T) {
	t.Parallel()

	b := setup(t)
	var oldID string
	for id := range b.keys(t, b.acmeKey) {
		oldID = id
	}
	r := b.do(t, b.acmeKey, http.MethodPost, "/v1/api_keys/"+oldID+"/revoke", "")
	require.Equal(t, http.StatusConflict, r.Status, r.Body)
	require.Equal(t, "last_active_api_key", r.ErrorField("code"))
	require.True(t, b.works(t, b.acmeKey))

	rolled := b.do(t, b.acmeKey, http.MethodPost, "/v1/api_keys/roll", "")
	require.Equal(t, http.StatusOK, rolled.Status)
	newKey := rolled.Body["secret"].(string)

	r = b.do(t, newKey, http.MethodPost, "/v1/api_keys/"+oldID+"/revoke", "")
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, "revoked", r.Body["status"])
	require.NotNil(t, r.Body["revoked_at"])
	require.False(t, b.works(t, b.acmeKey), "revoked during its overlap: 401 at once")

	var globexID string
	for id := range b.keys(t, b.globexKey) {
		globexID = id
	}
	for _, path := range []string{"/v1/api_keys/" + globexID + "/revoke", "/v1/api_keys/key_missing/revoke", "/v1/api_keys/nope/revoke"} {
		r = b.do(t, newKey, http.MethodPost, path, "")
		require.Equal(t, http.StatusNotFound, r.Status, path)
		require.Equal(t, "resource_missing", r.ErrorField("code"))
	}
	require.True(t, b.works(t, b.globexKey), "another merchant's key is untouched")

	r = b.do(t, newKey, http.MethodPost, "/v1/api_keys/"+rolled.Body["id"].(string)+"/revoke", "")
	require.Equal(t, http.StatusConflict, r.Status, "the new key is the last one now")
}
