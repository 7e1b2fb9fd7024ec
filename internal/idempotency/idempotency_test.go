package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/internal/syncbuf"
)

// testBundle is one merchant's database and a store over it.
type testBundle struct {
	pool       *pgxpool.Pool
	merchantID string
	logs       *syncbuf.Buffer
	// stopped is closed when the test ends, releasing handlers it left
	// blocked, so that a failed test fails instead of hanging.
	stopped chan struct{}
	stop    func()
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	m, _ := accounttest.NewMerchant(t, pool, "Acme")
	stopped := make(chan struct{})
	return &testBundle{pool: pool, merchantID: m.ID, logs: &syncbuf.Buffer{}, stopped: stopped,
		stop: sync.OnceFunc(func() { close(stopped) })}
}

// newStore returns a store sealing under a key made of keyByte.
func (b *testBundle) newStore(t *testing.T, keyByte byte, mutate ...func(*Store)) *Store {
	t.Helper()
	box, err := seal.New(bytes.Repeat([]byte{keyByte}, 32))
	require.NoError(t, err)
	s := NewStore(b.pool, box, slog.New(slog.NewTextHandler(b.logs, nil)))
	for _, m := range mutate {
		m(s)
	}
	return s
}

// serve runs handler behind the middleware on 127.0.0.1, as the merchant,
// with panics recovered as in Herald.
func (b *testBundle) serve(t *testing.T, s *Store, handler http.HandlerFunc) string {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(b.logs, nil))
	inner := httpapi.Recover(logger)(s.Middleware(handler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(httpapi.WithMerchantID(r.Context(), b.merchantID)))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(b.stop) // first: Close waits for the handlers
	return srv.URL
}

// wait blocks a handler until ch is closed, ctx is done or the test ends,
// and reports whether ch was closed.
func (b *testBundle) wait(ctx context.Context, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-b.stopped:
	}
	return false
}

// row is the stored state of a key.
type row struct {
	status *int
	body   []byte
}

func (b *testBundle) row(t *testing.T, key string) (row, bool) {
	t.Helper()
	var r row
	err := b.pool.QueryRow(context.Background(), `SELECT response_status, response_body FROM idempotency_keys
		WHERE merchant_id = $1 AND key = $2`, b.merchantID, key).Scan(&r.status, &r.body)
	if err != nil {
		require.ErrorContains(t, err, "no rows")
		return row{}, false
	}
	return r, true
}

type result struct {
	status int
	header http.Header
	body   string
}

func (r result) errorCode() string {
	var e struct {
		Error struct{ Type, Code string }
	}
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error.Type + "/" + e.Error.Code
}

func post(t *testing.T, url, key, body string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set(Header, key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// counting answers status with the call number in the body.
func counting(calls *atomic.Int32, status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		httpapi.WriteJSON(w, status, map[string]any{"call": n, "echo": string(body)})
	}
}

// serveCounting serves counting behind a store sealing under key byte 1,
// the start of most tests.
func (b *testBundle) serveCounting(t *testing.T, status int) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	return b.serve(t, b.newStore(t, 1), counting(&calls, status)), &calls
}

// postInBackground posts as post does, from a goroutine, for a request
// that blocks in its handler.
func postInBackground(t *testing.T, url, key, body string) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- post(t, url, key, body) }()
	return ch
}

// requireReplayed posts key again and requires the stored answer, want,
// replayed; msgAndArgs describe the case.
func requireReplayed(t *testing.T, url, key, body, want string, msgAndArgs ...any) result {
	t.Helper()
	again := post(t, url, key, body)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"), msgAndArgs...)
	require.Equal(t, want, again.body, msgAndArgs...)
	return again
}

func TestReplay(t *testing.T) {
	t.Parallel()

	b := setup(t)
	url, calls := b.serveCounting(t, http.StatusCreated)

	first := post(t, url+"/v1/things", "k-1", `{"a":1}`)
	require.Equal(t, http.StatusCreated, first.status)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	again := requireReplayed(t, url+"/v1/things", "k-1", `{"a":1}`, first.body)
	require.Equal(t, http.StatusCreated, again.status)
	require.Equal(t, int32(1), calls.Load(), "the handler ran once")

	other := post(t, url+"/v1/things", "k-2", `{"a":1}`)
	require.Empty(t, other.header.Get("Idempotent-Replayed"), "another key is another request")
	require.Equal(t, int32(2), calls.Load())

	// No key, or not a POST: nothing is remembered.
	post(t, url+"/v1/things", "", `{"a":1}`)
	post(t, url+"/v1/things", "", `{"a":1}`)
	require.Equal(t, int32(4), calls.Load())
	req, err := http.NewRequest(http.MethodGet, url+"/v1/things", nil)
	require.NoError(t, err)
	req.Header.Set(Header, "k-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get("Idempotent-Replayed"))
	require.Equal(t, int32(5), calls.Load())
}

// Client errors are final and replayed; server errors and rate limits are
// not stored, so the retry runs the request again.
func TestWhichResponsesAreStored(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		status int
		stored bool
	}{
		{http.StatusOK, true},
		{http.StatusBadRequest, true},
		{http.StatusNotFound, true},
		{http.StatusConflict, true},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusBadGateway, false},
		{http.StatusServiceUnavailable, false},
	} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			var calls atomic.Int32
			url := b.serve(t, b.newStore(t, 1), func(w http.ResponseWriter, r *http.Request) {
				if calls.Load() == 0 {
					counting(&calls, tt.status)(w, r)
					return
				}
				counting(&calls, http.StatusOK)(w, r)
			})

			first := post(t, url, "k", `{}`)
			require.Equal(t, tt.status, first.status)
			_, kept := b.row(t, "k")
			require.Equal(t, tt.stored, kept, "a %d is stored: %v", tt.status, tt.stored)

			if tt.stored {
				again := requireReplayed(t, url, "k", `{}`, first.body)
				require.Equal(t, tt.status, again.status)
				require.Equal(t, int32(1), calls.Load())
				return
			}
			again := post(t, url, "k", `{}`)
			require.Equal(t, http.StatusOK, again.status, "the retry ran again")
			require.Empty(t, again.header.Get("Idempotent-Replayed"))
			require.Equal(t, int32(2), calls.Load())
		})
	}
}

func TestDifferentRequestRefused(t *testing.T) {
	t.Parallel()

	b := setup(t)
	url, calls := b.serveCounting(t, http.StatusOK)

	require.Equal(t, http.StatusOK, post(t, url+"/v1/a", "k", `{"x":1}`).status)
	for name, r := range map[string]result{
		"another body": post(t, url+"/v1/a", "k", `{"x":2}`),
		"another path": post(t, url+"/v1/b", "k", `{"x":1}`),
	} {
		require.Equal(t, http.StatusUnprocessableEntity, r.status, name)
		require.Equal(t, "idempotency_error/idempotency_key_reused", r.errorCode(), name)
	}
	require.Equal(t, int32(1), calls.Load())
}

func TestInvalidKey(t *testing.T) {
	t.Parallel()

	b := setup(t)
	url, calls := b.serveCounting(t, http.StatusOK)
	for name, key := range map[string]string{
		"too long":  strings.Repeat("k", 256),
		"non-ASCII": "clé",
		"control":   "a\tb",
	} {
		r := post(t, url, key, `{}`)
		require.Equal(t, http.StatusBadRequest, r.status, name)
		require.Equal(t, "invalid_request_error/idempotency_key_invalid", r.errorCode(), name)
	}
	require.Zero(t, calls.Load())
}

// While the first request runs, every other request with its key gets 409,
// and the handler runs once.
func TestInFlightConflict(t *testing.T) {
	t.Parallel()

	b := setup(t)
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	url := b.serve(t, b.newStore(t, 1), func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(started)
		}
		if b.wait(r.Context(), release) {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"done": true})
		}
	})

	results := make(chan result, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { results <- post(t, url, "k", `{}`) })
	}
	receive(t, started)
	for range 7 {
		r := receive(t, results)
		require.Equal(t, http.StatusConflict, r.status, r.body)
		require.Equal(t, "idempotency_error/idempotency_key_in_use", r.errorCode())
	}
	close(release)
	wg.Wait()
	require.Equal(t, http.StatusOK, receive(t, results).status)
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, "true", post(t, url, "k", `{}`).header.Get("Idempotent-Replayed"))
}

func TestPanicReleasesKey(t *testing.T) {
	t.Parallel()

	b := setup(t)
	var calls atomic.Int32
	url := b.serve(t, b.newStore(t, 1), func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
	})

	require.Equal(t, http.StatusInternalServerError, post(t, url, "k", `{}`).status)
	_, kept := b.row(t, "k")
	require.False(t, kept, "the claim is released")
	again := post(t, url, "k", `{}`)
	require.Equal(t, http.StatusOK, again.status, "the retry runs")
	require.Empty(t, again.header.Get("Idempotent-Replayed"))
	require.Equal(t, int32(2), calls.Load())
}

// A key past its TTL is free again, even for another request, and the
// cleanup deletes it; a fresh key and a live claim are kept.
func TestTTLExpiry(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	var calls atomic.Int32
	store := b.newStore(t, 1)
	url := b.serve(t, store, counting(&calls, http.StatusOK))

	require.Equal(t, http.StatusOK, post(t, url, "old", `{"v":1}`).status)
	require.Equal(t, http.StatusOK, post(t, url, "fresh", `{"v":1}`).status)
	_, err := b.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute' WHERE key = 'old'`)
	require.NoError(t, err)

	r := post(t, url, "old", `{"v":2}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Empty(t, r.header.Get("Idempotent-Replayed"))
	require.Contains(t, r.body, `"call":3`, "the request ran again")
	require.Equal(t, http.StatusUnprocessableEntity, post(t, url, "fresh", `{"v":2}`).status)

	// The cleanup job: an expired answer goes, a fresh one and a live claim
	// stay, an abandoned claim goes.
	_, err = b.pool.Exec(ctx, `INSERT INTO idempotency_keys (merchant_id, key, request_hash, created_at, locked_until) VALUES
		($1, 'live', '\x00', now() - interval '25 hours', now() + interval '10 seconds'),
		($1, 'dead', '\x00', now() - interval '25 hours', now() - interval '10 seconds')`, b.merchantID)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'`)
	require.NoError(t, err)
	n, err := store.DeleteExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	for key, kept := range map[string]bool{"old": false, "dead": false, "fresh": true, "live": true} {
		_, ok := b.row(t, key)
		require.Equal(t, kept, ok, key)
	}
}

// A response carrying a webhook secret is stored sealed: no form of the
// secret is in the table (nor in the logs), and the replay still returns it.
func TestStoredResponseIsSealed(t *testing.T) {
	t.Parallel()

	b := setup(t)
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(raw)
	var calls atomic.Int32
	url := b.serve(t, b.newStore(t, 1), func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"id": "we_1", "secret": secret})
	})

	first := post(t, url, "k", `{}`)
	require.Contains(t, first.body, secret)
	stored, ok := b.row(t, "k")
	require.True(t, ok)
	require.Equal(t, http.StatusOK, *stored.status)
	require.NotEmpty(t, stored.body)
	for name, form := range map[string][]byte{
		"secret":        []byte(secret),
		"base64 part":   []byte(strings.TrimPrefix(secret, "whsec_")),
		"key bytes":     raw,
		"hex of secret": []byte(hex.EncodeToString([]byte(secret))),
		"hex of key":    []byte(hex.EncodeToString(raw)),
		"the id":        []byte("we_1"),
	} {
		require.False(t, bytes.Contains(stored.body, form), "the stored body holds the %s", name)
	}
	require.NotContains(t, b.logs.String(), strings.TrimPrefix(secret, "whsec_"))

	requireReplayed(t, url, "k", `{}`, first.body, "the replay opens the sealed body")
	require.Equal(t, int32(1), calls.Load())
}

// A stored body that cannot be opened (sealed under another server secret,
// or copied from another row) answers a clear 409 and runs nothing twice.
func TestUnreadableResponse(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	url, calls := b.serveCounting(t, http.StatusOK)
	rotated := b.serve(t, b.newStore(t, 2), counting(calls, http.StatusOK))

	require.Equal(t, http.StatusOK, post(t, url, "k", `{}`).status)
	r := post(t, rotated, "k", `{}`)
	require.Equal(t, http.StatusConflict, r.status, r.body)
	require.Equal(t, "idempotency_error/idempotency_key_unreadable", r.errorCode())
	require.Equal(t, int32(1), calls.Load(), "the request is not run a second time")
	require.Equal(t, http.StatusConflict, post(t, rotated, "k", `{}`).status, "and the answer stays the same")

	// The seal is bound to merchant and key: a body moved to another key's
	// row does not open there.
	require.Equal(t, http.StatusOK, post(t, url, "k2", `{}`).status)
	_, err := b.pool.Exec(ctx, `UPDATE idempotency_keys SET response_body = (SELECT response_body FROM idempotency_keys WHERE key = 'k')
		WHERE key = 'k2'`)
	require.NoError(t, err)
	r = post(t, url, "k2", `{}`)
	require.Equal(t, http.StatusConflict, r.status, r.body)
	require.Equal(t, "idempotency_error/idempotency_key_unreadable", r.errorCode())
	require.Equal(t, "true", post(t, url, "k", `{}`).header.Get("Idempotent-Replayed"), "the original still opens")
	require.Equal(t, int32(2), calls.Load())
}

// With a 1 s lease, a request running 3 s keeps its key the whole time:
// the heartbeat renews the lease, and every other request gets 409.
func TestLeaseRenewalKeepsOthersOut(t *testing.T) {
	t.Parallel()

	b := setup(t)
	lease := func(s *Store) { s.Lease, s.Heartbeat = time.Second, 200*time.Millisecond }
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	var handlerErr atomic.Value
	url := b.serve(t, b.newStore(t, 1, lease), func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(started)
		}
		if b.wait(r.Context(), release) {
			httpapi.WriteJSON(w, http.StatusOK, map[string]any{"done": true})
			return
		}
		if err := context.Cause(r.Context()); err != nil {
			handlerErr.Store(err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	// The other requests come through another process's store.
	other := b.serve(t, b.newStore(t, 1, lease), counting(&calls, http.StatusOK))

	first := postInBackground(t, url, "k", `{}`)
	receive(t, started)
	begin := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	polls := 0
	for time.Since(begin) < 3*time.Second {
		r := post(t, other, "k", `{}`)
		require.Equal(t, http.StatusConflict, r.status, "after %s: %s", time.Since(begin), r.body)
		polls++
		<-tick.C
	}
	require.Greater(t, polls, 10)
	close(release)
	require.Equal(t, http.StatusOK, receive(t, first).status)
	require.Nil(t, handlerErr.Load(), "the first request was never cancelled")
	require.Equal(t, int32(1), calls.Load())
	require.Equal(t, "true", post(t, other, "k", `{}`).header.Get("Idempotent-Replayed"))
}

// A request whose lease expired, or was taken over by another request, has
// its context cancelled with ErrLeaseLost; whatever it answers then, it
// neither frees nor overwrites the new holder's claim.
func TestLostLeaseCancelsHandler(t *testing.T) {
	t.Parallel()

	shortLease := func(s *Store) { s.Lease, s.Heartbeat = time.Second, 200*time.Millisecond }
	expire := func(t *testing.T, b *testBundle) {
		t.Helper()
		// As if the heartbeat had stalled past the lease.
		_, err := b.pool.Exec(context.Background(), `UPDATE idempotency_keys SET locked_until = now() - interval '1 millisecond' WHERE key = 'k'`)
		require.NoError(t, err)
	}

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		started := make(chan struct{})
		cause := make(chan error, 1)
		url := b.serve(t, b.newStore(t, 1, shortLease), func(w http.ResponseWriter, r *http.Request) {
			close(started)
			b.wait(r.Context(), nil)
			cause <- context.Cause(r.Context())
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		first := postInBackground(t, url, "k", `{}`)
		receive(t, started)
		expire(t, b)
		require.ErrorIs(t, receive(t, cause), ErrLeaseLost, "an expired lease is lost, never revived")
		require.Equal(t, http.StatusServiceUnavailable, receive(t, first).status)
		require.Contains(t, b.logs.String(), "idempotency lease lost")
	})

	for _, firstStatus := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprintf("TakenOverFirstAnswers%d", firstStatus), func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			var calls atomic.Int32
			started, secondStarted, releaseSecond := make(chan struct{}), make(chan struct{}), make(chan struct{})
			cause := make(chan error, 1)
			url := b.serve(t, b.newStore(t, 1, shortLease), func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				switch n {
				case 1:
					close(started)
					b.wait(r.Context(), nil)
					cause <- context.Cause(r.Context())
					// The first request answers only once the key has its
					// new holder, as a request that did its work anyway.
					if b.wait(context.Background(), secondStarted) {
						httpapi.WriteJSON(w, firstStatus, map[string]any{"call": n})
					}
				case 2:
					close(secondStarted)
					if b.wait(r.Context(), releaseSecond) {
						httpapi.WriteJSON(w, http.StatusOK, map[string]any{"call": n})
					}
				default:
					httpapi.WriteJSON(w, http.StatusOK, map[string]any{"call": n})
				}
			})

			first := postInBackground(t, url, "k", `{}`)
			receive(t, started)
			expire(t, b)
			second := postInBackground(t, url, "k", `{}`)
			require.ErrorIs(t, receive(t, cause), ErrLeaseLost)
			r := receive(t, first)
			require.Equal(t, firstStatus, r.status)
			require.Contains(t, r.body, `"call":1`)

			// The first request has finished; the second still holds the key.
			r = post(t, url, "k", `{}`)
			require.Equal(t, http.StatusConflict, r.status, r.body)
			require.Equal(t, "idempotency_error/idempotency_key_in_use", r.errorCode())

			close(releaseSecond)
			r = receive(t, second)
			require.Equal(t, http.StatusOK, r.status, r.body)
			require.Contains(t, r.body, `"call":2`)
			requireReplayed(t, url, "k", `{}`, r.body, "the new holder's answer is the one kept")
			require.Equal(t, int32(2), calls.Load())
		})
	}
}

// A request that cannot renew its lease (here the row is locked by another
// transaction) is cancelled before the lease would expire.
func TestUnrenewableLeaseCancelsHandler(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	started := make(chan struct{})
	type cancelled struct {
		cause error
		at    time.Time
	}
	cause := make(chan cancelled, 1)
	// Renewals every 400 ms give the request 200 ms to stop before its
	// lease would run out: room for a loaded machine.
	url := b.serve(t, b.newStore(t, 1, func(s *Store) { s.Lease, s.Heartbeat = 2*time.Second, 400*time.Millisecond }),
		func(w http.ResponseWriter, r *http.Request) {
			close(started)
			b.wait(r.Context(), nil)
			cause <- cancelled{context.Cause(r.Context()), time.Now()}
			w.WriteHeader(http.StatusServiceUnavailable)
		})

	first := postInBackground(t, url, "k", `{}`)
	receive(t, started)
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // released below; this covers a failed assertion
	var expires time.Time
	require.NoError(t, tx.QueryRow(ctx, `SELECT locked_until FROM idempotency_keys WHERE key = 'k' FOR UPDATE`).Scan(&expires))
	select {
	case c := <-cause:
		require.ErrorIs(t, c.cause, ErrLeaseLost)
		require.True(t, c.at.Before(expires), "cancelled at %s, before the lease expired at %s", c.at, expires)
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not cancelled")
	}
	require.NoError(t, tx.Rollback(ctx))
	require.Equal(t, http.StatusServiceUnavailable, receive(t, first).status)
	require.Eventually(t, func() bool {
		_, kept := b.row(t, "k")
		return !kept
	}, 5*time.Second, 20*time.Millisecond, "the failed request released its key")
}

// receive returns the next value from ch, failing the test if none comes
// within 10 seconds.
func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
	}
	t.Fatal("nothing received within 10 s")
	var zero T
	return zero
}
