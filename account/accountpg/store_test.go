package accountpg

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/pgtest"
)

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := NewStore(pool)

	m, key, err := store.Create(ctx, account.Merchant{Name: "  Acme Books ", LogoURL: "https://acme.test/logo.png", AccentColor: "#AA3300"})
	require.NoError(t, err)
	require.Equal(t, "Acme Books", m.Name)
	require.Equal(t, "#aa3300", m.AccentColor)
	require.True(t, strings.HasPrefix(m.ID, "acct_"))
	require.True(t, strings.HasPrefix(key, "sk_test_"))

	got, err := store.Authenticate(ctx, key)
	require.NoError(t, err)
	require.Equal(t, m.ID, got.MerchantID)
	require.True(t, strings.HasPrefix(got.KeyID, "key_"), got.KeyID)

	// The database holds a digest, never the key.
	var stored []byte
	var hint string
	require.NoError(t, pool.QueryRow(ctx, `SELECT hash, hint FROM api_keys WHERE merchant_id = $1`, m.ID).Scan(&stored, &hint))
	require.Equal(t, account.KeyDigest(key), stored)
	require.Equal(t, account.KeyHint(key), hint)
	require.NotContains(t, hint, key[8:len(key)-4])

	for _, bad := range []string{"", "sk_test_", key + "x", strings.ToUpper(key), "pk_test_abc", "sk_live_" + key[8:]} {
		_, err := store.Authenticate(ctx, bad)
		require.ErrorIs(t, err, account.ErrInvalidKey, "key %q", bad)
	}

	_, err = pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now()`)
	require.NoError(t, err)
	_, err = store.Authenticate(ctx, key)
	require.ErrorIs(t, err, account.ErrInvalidKey)
}

func TestCreateRefusesInvalid(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, _, err := NewStore(pool).Create(ctx, account.Merchant{Name: "A", AccentColor: "red"})
	require.ErrorContains(t, err, "accent colour")
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM merchants) + (SELECT count(*) FROM api_keys)`).Scan(&n))
	require.Zero(t, n, "nothing is written")
}

func TestFind(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	store := NewStore(pgtest.NewPool(t))
	m, _, err := store.Create(ctx, account.Merchant{Name: "Acme", LogoURL: "https://acme.test/logo.png"})
	require.NoError(t, err)

	got, err := store.Find(ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, m.ID, got.ID)
	require.Equal(t, "Acme", got.Name)
	require.Equal(t, "https://acme.test/logo.png", got.LogoURL)
	require.Equal(t, account.DefaultAccentColor, got.AccentColor)
	require.WithinDuration(t, m.Created, got.Created, 0)

	_, err = store.Find(ctx, "acct_missing")
	require.ErrorIs(t, err, account.ErrNotFound)
}
