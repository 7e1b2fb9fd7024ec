package account

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/id"
)

// The key format: what is made, what is looked up, what is stored and
// what may be shown.
func TestKeyFormat(t *testing.T) {
	t.Parallel()

	key := NewKey()
	require.True(t, strings.HasPrefix(key, "sk_test_"))
	require.Len(t, key, len("sk_test_")+32)
	require.NotEqual(t, key, NewKey())
	require.True(t, id.HasPrefix(NewMerchantID(), "acct"))

	for _, tt := range []struct {
		key  string
		want bool
	}{
		{key, true},
		{"sk_test_x", true},
		{"", false},
		{"sk_test", false},
		{"pk_test_" + key[8:], false},
		{"sk_live_" + key[8:], false},
		{"SK_TEST_" + key[8:], false},
		{"sk_test_" + strings.Repeat("a", 192), true},
		{"sk_test_" + strings.Repeat("a", 193), false},
	} {
		require.Equal(t, tt.want, PlausibleKey(tt.key), "%.20q…", tt.key)
	}

	// A known answer: the digest is SHA-256, so a stored hash can be
	// checked with any tool.
	require.Equal(t, "4b4090ccee1e713c3d411b96a4226b90bd0f0deb34e02d19475a951316fd04ee", hex.EncodeToString(KeyDigest("sk_test_abc")))

	hint := KeyHint(key)
	require.Equal(t, "sk_test_…"+key[len(key)-4:], hint)
	require.NotContains(t, hint, key[8:len(key)-4])
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

	m := Merchant{Name: "  Acme Books ", AccentColor: " #AA3300"}
	require.NoError(t, m.Validate())
	require.Equal(t, Merchant{Name: "Acme Books", AccentColor: "#aa3300"}, m, "trimmed and lowercased")
	m = Merchant{Name: "A"}
	require.NoError(t, m.Validate())
	require.Equal(t, DefaultAccentColor, m.AccentColor)
}
