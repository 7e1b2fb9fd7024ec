package idempotency

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/seal"
)

// Re-sealing moves every stored response to the current key, batch by
// batch, leaves in-flight claims and other keys' rows alone, changes
// nothing the second time, and the responses replay under the new key
// alone exactly as they were first answered.
func TestReseal(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	old := bytes.Repeat([]byte{1}, 32)
	url, calls := b.serveCounting(t, http.StatusOK)
	first := map[string]string{}
	for _, key := range []string{"k-1", "k-2", "k-3"} {
		r := post(t, url, key, `{"n":"`+key+`"}`)
		require.Equal(t, http.StatusOK, r.status)
		first[key] = r.body
	}
	_, err := b.pool.Exec(ctx, `INSERT INTO idempotency_keys (merchant_id, key, request_hash, locked_until)
		VALUES ($1, 'in-flight', '\x00', now() + interval '1 minute')`, b.merchantID)
	require.NoError(t, err)

	newKey := seal.Key{ID: "new", Secret: bytes.Repeat([]byte{2}, 32)}
	ring, err := seal.NewBox(newKey, seal.Key{ID: seal.KeyID(old), Secret: old})
	require.NoError(t, err)
	rotating := NewStore(b.pool, ring, slog.New(slog.DiscardHandler))
	tally, err := rotating.Reseal(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, seal.Tally{Resealed: 3}, tally)
	for key := range first {
		r, ok := b.row(t, key)
		require.True(t, ok)
		require.True(t, bytes.HasPrefix(r.body, []byte("v2.new.")), "%s: %s", key, r.body)
	}
	r, ok := b.row(t, "in-flight")
	require.True(t, ok)
	require.Nil(t, r.body, "an in-flight claim has nothing to re-seal")

	tally, err = rotating.Reseal(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, seal.Tally{}, tally, "the second time changes nothing")

	onlyNew, err := seal.NewBox(newKey)
	require.NoError(t, err)
	url = b.serve(t, NewStore(b.pool, onlyNew, slog.New(slog.DiscardHandler)), counting(calls, http.StatusOK))
	for key, body := range first {
		requireReplayed(t, url, key, `{"n":"`+key+`"}`, body, key)
	}
	require.Equal(t, int32(3), calls.Load(), "nothing ran twice")
}

// A response sealed under a key the ring lacks is counted, named and left
// as it was.
func TestResealUnreadable(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	url, _ := b.serveCounting(t, http.StatusOK)
	require.Equal(t, http.StatusOK, post(t, url, "k", `{}`).status)
	before, _ := b.row(t, "k")

	other, err := seal.NewBox(seal.Key{ID: "other", Secret: bytes.Repeat([]byte{3}, 32)})
	require.NoError(t, err)
	tally, err := NewStore(b.pool, other, slog.New(slog.DiscardHandler)).Reseal(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, seal.Tally{Unreadable: 1, UnknownKeys: []string{seal.KeyID(bytes.Repeat([]byte{1}, 32))}}, tally)
	after, _ := b.row(t, "k")
	require.Equal(t, before.body, after.body)
}
