package deliverypg

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/seal"
)

// Re-sealing moves every endpoint's secrets, current and previous, deleted
// endpoints' too, to the current key, batch by batch; a second pass changes
// nothing; the secrets open under the new key alone as they were.
func TestResealSecrets(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	acme, other := b.merchant(t, "Acme"), b.merchant(t, "Other")
	secrets := map[string][]string{}
	endpoints := make([]string, 3)
	for i, m := range []string{acme, acme, other} {
		e := b.endpoint(t, m, "https://hooks.example.com/"+string(rune('a'+i)), "*")
		secrets[e.ID], endpoints[i] = []string{e.Secret}, e.ID
	}
	rolled, err := b.svc.RollSecret(ctx, acme, endpoints[0], time.Hour)
	require.NoError(t, err)
	secrets[endpoints[0]] = []string{rolled.Secret, secrets[endpoints[0]][0]}
	require.NoError(t, b.svc.DeleteEndpoint(ctx, acme, endpoints[1]))

	newKey := seal.Key{ID: "new", Secret: bytes.Repeat([]byte{8}, 32)}
	ring, err := seal.NewBox(newKey, seal.Key{ID: seal.KeyID(testKey), Secret: testKey})
	require.NoError(t, err)
	tally, err := ResealSecrets(ctx, b.pool, ring, 2)
	require.NoError(t, err)
	require.Equal(t, seal.Tally{Resealed: 4}, tally, "three current secrets and one previous")
	tally, err = ResealSecrets(ctx, b.pool, ring, 2)
	require.NoError(t, err)
	require.Equal(t, seal.Tally{}, tally, "the second pass changes nothing")

	onlyNew, err := seal.NewBox(newKey)
	require.NoError(t, err)
	for id, want := range secrets {
		var current string
		var previous *string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT secret_sealed, previous_secret_sealed FROM webhook_endpoints WHERE id = $1`, id).
			Scan(&current, &previous))
		sealed := []string{current}
		if previous != nil {
			sealed = append(sealed, *previous)
		}
		require.Len(t, sealed, len(want), id)
		for i, s := range sealed {
			require.True(t, strings.HasPrefix(s, "v2.new."), s)
			plain, err := onlyNew.Open(s, id)
			require.NoError(t, err)
			require.Equal(t, want[i], plain)
		}
	}
}

// A secret sealed under a key the ring lacks is counted, named and left as
// it was; the others are re-sealed.
func TestResealSecretsUnreadable(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	m := b.merchant(t, "Acme")
	lost := b.endpoint(t, m, "https://hooks.example.com/lost", "*")
	kept := b.endpoint(t, m, "https://hooks.example.com/kept", "*")
	stranger, err := seal.NewBox(seal.Key{ID: "gone", Secret: bytes.Repeat([]byte{9}, 32)})
	require.NoError(t, err)
	lostSealed := stranger.Seal(lost.Secret, lost.ID)
	_, err = b.pool.Exec(ctx, `UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1`, lost.ID, lostSealed)
	require.NoError(t, err)

	ring, err := seal.NewBox(seal.Key{ID: "new", Secret: bytes.Repeat([]byte{8}, 32)}, seal.Key{ID: seal.KeyID(testKey), Secret: testKey})
	require.NoError(t, err)
	tally, err := ResealSecrets(ctx, b.pool, ring, 10)
	require.NoError(t, err)
	require.Equal(t, seal.Tally{Resealed: 1, Unreadable: 1, UnknownKeys: []string{"gone"}}, tally)
	var current string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT secret_sealed FROM webhook_endpoints WHERE id = $1`, lost.ID).Scan(&current))
	require.Equal(t, lostSealed, current, "left as it was")
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT secret_sealed FROM webhook_endpoints WHERE id = $1`, kept.ID).Scan(&current))
	require.True(t, strings.HasPrefix(current, "v2.new."))
}
