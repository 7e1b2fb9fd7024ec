package account

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
)

func TestCreateAndAuthenticate(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := NewStore(pool)

	m, key, err := store.Create(ctx, Merchant{Name: "  Acme Books ", LogoURL: "https://acme.test/logo.png", AccentColor: "#AA3300"})
	require.NoError(t, err)
	require.Equal(t, "Acme Books", m.Name)
	require.Equal(t, "#aa3300", m.AccentColor)
	require.True(t, strings.HasPrefix(m.ID, "acct_"))
	require.True(t, strings.HasPrefix(key, "sk_test_"))

	got, err := store.Authenticate(ctx, key)
	require.NoError(t, err)
	require.Equal(t, m.ID, got)

	// The database holds a digest, never the key.
	var stored []byte
	var hint string
	require.NoError(t, pool.QueryRow(ctx, `SELECT hash, hint FROM api_keys WHERE merchant_id = $1`, m.ID).Scan(&stored, &hint))
	digest := sha256.Sum256([]byte(key))
	require.Equal(t, digest[:], stored)
	require.NotContains(t, hint, key[8:len(key)-4])

	for _, bad := range []string{"", "sk_test_", key + "x", strings.ToUpper(key), "pk_test_abc", "sk_live_" + key[8:]} {
		_, err := store.Authenticate(ctx, bad)
		require.ErrorIs(t, err, ErrInvalidKey, "key %q", bad)
	}

	_, err = pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now()`)
	require.NoError(t, err)
	_, err = store.Authenticate(ctx, key)
	require.ErrorIs(t, err, ErrInvalidKey)
}

func TestMerchantValidate(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name    string
		m       Merchant
		wantErr string
	}{
		{"empty name", Merchant{Name: " "}, "name must be"},
		{"long name", Merchant{Name: strings.Repeat("x", 101)}, "name must be"},
		{"relative logo", Merchant{Name: "A", LogoURL: "/logo.png"}, "logo URL"},
		{"ftp logo", Merchant{Name: "A", LogoURL: "ftp://x/logo.png"}, "logo URL"},
		{"NUL in the name", Merchant{Name: "Acme\x00"}, "control characters"},
		{"C1 in the logo", Merchant{Name: "A", LogoURL: "https://cdn.test/\u0085.png"}, "control characters"},
		{"bad colour", Merchant{Name: "A", AccentColor: "red"}, "accent colour"},
		{"short colour", Merchant{Name: "A", AccentColor: "#abc"}, "accent colour"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := tt.m.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
		})
	}

	m := Merchant{Name: "A"}
	require.NoError(t, m.Validate())
	require.Equal(t, DefaultAccentColor, m.AccentColor)
}
