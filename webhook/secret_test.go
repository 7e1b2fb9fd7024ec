package webhook

import (
	"encoding/base64"
	"strings"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// otherSecret is a second valid secret, 32 bytes with one '=' of padding.
const otherSecret = "whsec_JAFFwUCK2SqQqTFoaeyMQ0mksSOQkgh2QjK4z+m46WQ="

func TestNewSecret(t *testing.T) {
	t.Parallel()

	s := NewSecret()
	require.True(t, strings.HasPrefix(s, SecretPrefix), s)
	raw, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(s, SecretPrefix))
	require.NoError(t, err, "padded standard base64")
	require.Len(t, raw, 32)

	key, err := ParseSecret(s)
	require.NoError(t, err)
	require.Equal(t, raw, key)

	_, err = standardwebhooks.NewWebhook(s)
	require.NoError(t, err, "the peer library accepts our secrets")

	require.NotEqual(t, s, NewSecret())
}

func TestParseSecret(t *testing.T) {
	t.Parallel()

	otherKey, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(otherSecret, SecretPrefix))
	require.NoError(t, err)
	unpadded := strings.TrimRight(otherSecret, "=")
	key64 := make([]byte, 64)
	key64[63] = 1

	for _, tt := range []struct {
		name   string
		secret string
		want   []byte
	}{
		{"prefixed, padded", otherSecret, otherKey},
		{"no prefix", strings.TrimPrefix(otherSecret, SecretPrefix), otherKey},
		{"unpadded", unpadded, otherKey},
		{"unpadded, no prefix", strings.TrimPrefix(unpadded, SecretPrefix), otherKey},
		{"surrounding whitespace", " \t" + otherSecret + "\n", otherKey},
		{"24 bytes, the minimum", base64.StdEncoding.EncodeToString(make([]byte, 24)), make([]byte, 24)},
		{"64 bytes, the maximum", SecretPrefix + base64.StdEncoding.EncodeToString(key64), key64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSecret(tt.secret)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseSecretInvalid(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name   string
		secret string
		empty  bool
	}{
		{"empty", "", true},
		{"prefix only", SecretPrefix, true},
		{"bad base64 character", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La*aSw", false},
		{"url-safe alphabet", "whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimPrefix(otherSecret, SecretPrefix)), false},
		{"wrong padding", otherSecret + "=", false},
		{"padding in the middle", "whsec_MfKQ9r8GKYqr=wjUPD8ILPZIo2LaLaSw", false},
		{"prefix twice", SecretPrefix + otherSecret, false},
		{"too short", SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 23)), false},
		{"too long", SecretPrefix + base64.StdEncoding.EncodeToString(make([]byte, 65)), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := ParseSecret(tt.secret)
			require.ErrorIs(t, err, ErrInvalidSecret)
			if tt.empty {
				require.ErrorIs(t, err, ErrEmptyKey)
			} else {
				require.NotErrorIs(t, err, ErrEmptyKey)
			}
			require.Nil(t, key)
			if body := strings.TrimPrefix(tt.secret, SecretPrefix); len(body) > 4 {
				require.NotContains(t, err.Error(), body, "errors must not leak the secret")
			}
		})
	}
}
