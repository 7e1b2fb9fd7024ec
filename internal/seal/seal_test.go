package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()

	box, err := New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	sealed := box.Seal("whsec_secret", "we_1")
	require.True(t, strings.HasPrefix(sealed, "v2."+box.CurrentID()+"."), sealed)
	require.Equal(t, box.CurrentID(), SealedKeyID(sealed))
	require.NotContains(t, sealed, "whsec_secret")
	require.NotEqual(t, sealed, box.Seal("whsec_secret", "we_1"), "a fresh nonce every time")

	plain, err := box.Open(sealed, "we_1")
	require.NoError(t, err)
	require.Equal(t, "whsec_secret", plain)

	_, err = box.Open(sealed, "we_2")
	require.ErrorIs(t, err, ErrOpen, "bound to its context")
	other, err := NewBox(Key{ID: box.CurrentID(), Secret: bytes.Repeat([]byte{8}, 32)})
	require.NoError(t, err)
	_, err = other.Open(sealed, "we_1")
	require.ErrorIs(t, err, ErrOpen, "bound to its key, not just its id")
	require.NotErrorIs(t, err, ErrUnknownKey)
	payload := sealed[strings.LastIndex(sealed, ".")+1:]
	for _, bad := range []string{"", "v1.", "v2.", "v2." + box.CurrentID(), "v2." + box.CurrentID() + ".!!!",
		"v3." + sealed[3:], sealed[:len(sealed)-2], "v2.bad kid." + payload} {
		_, err = box.Open(bad, "we_1")
		require.ErrorIs(t, err, ErrOpen, bad)
	}

	_, err = New([]byte("short"))
	require.Error(t, err)
}

// sealV1 seals as Herald did before keyrings: "v1." and no key id.
func sealV1(t *testing.T, key []byte, plaintext, context string) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	nonce := bytes.Repeat([]byte{1}, aead.NonceSize())
	return "v1." + base64.RawStdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(plaintext), []byte(context)))
}

// A Box of several keys seals under the first and opens under any; a value
// names its key, so a missing key is reported by id; values sealed before
// key ids existed open under whichever key sealed them.
func TestBoxWithSeveralKeys(t *testing.T) {
	t.Parallel()

	keyA, keyB := bytes.Repeat([]byte{'a'}, 32), bytes.Repeat([]byte{'b'}, 32)
	onlyA, err := NewBox(Key{ID: "a", Secret: keyA})
	require.NoError(t, err)
	ba, err := NewBox(Key{ID: "b", Secret: keyB}, Key{ID: "a", Secret: keyA})
	require.NoError(t, err)
	onlyB, err := NewBox(Key{ID: "b", Secret: keyB})
	require.NoError(t, err)

	underA := onlyA.Seal("whsec_a", "we_1")
	require.Equal(t, "a", SealedKeyID(underA))
	require.True(t, onlyA.IsCurrent(underA))
	require.False(t, ba.IsCurrent(underA))

	plain, err := ba.Open(underA, "we_1")
	require.NoError(t, err, "the ring still opens what the old key sealed")
	require.Equal(t, "whsec_a", plain)

	underB := ba.Seal("whsec_b", "we_1")
	require.Equal(t, "b", SealedKeyID(underB), "sealed under the first key")
	require.Equal(t, "v2.b.", ba.CurrentPrefix())

	resealed, err := ba.Reseal(underA, "we_1")
	require.NoError(t, err)
	require.True(t, ba.IsCurrent(resealed))
	plain, err = onlyB.Open(resealed, "we_1")
	require.NoError(t, err, "once re-sealed, the old key is not needed")
	require.Equal(t, "whsec_a", plain)

	_, err = onlyB.Open(underA, "we_1")
	require.ErrorIs(t, err, ErrUnknownKey)
	require.ErrorIs(t, err, ErrOpen)
	require.ErrorContains(t, err, `"a"`, "the error names the missing key")
	_, err = onlyB.Reseal(underA, "we_1")
	require.ErrorIs(t, err, ErrUnknownKey)

	legacy := sealV1(t, keyA, "whsec_old", "we_9")
	require.Empty(t, SealedKeyID(legacy))
	for _, box := range []*Box{onlyA, ba} {
		plain, err := box.Open(legacy, "we_9")
		require.NoError(t, err, "v1 values open under whichever key sealed them")
		require.Equal(t, "whsec_old", plain)
	}
	_, err = onlyB.Open(legacy, "we_9")
	require.ErrorIs(t, err, ErrOpen)
	_, err = ba.Open(legacy, "we_8")
	require.ErrorIs(t, err, ErrOpen, "v1 values stay bound to their context")
	resealed, err = ba.Reseal(legacy, "we_9")
	require.NoError(t, err)
	require.Equal(t, "b", SealedKeyID(resealed))

	for name, keys := range map[string][]Key{
		"none":        nil,
		"short":       {{ID: "a", Secret: []byte("short")}},
		"bad id":      {{ID: "a.b", Secret: keyA}},
		"repeated id": {{ID: "a", Secret: keyA}, {ID: "a", Secret: keyB}},
	} {
		_, err := NewBox(keys...)
		require.Error(t, err, name)
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()

	a, b := bytes.Repeat([]byte{'a'}, 32), bytes.Repeat([]byte{0xfb}, 40)
	for _, tt := range []struct {
		name, in string
		ids      []string
		err      string
	}{
		{"one", "k1:" + base64.StdEncoding.EncodeToString(a), []string{"k1"}, ""},
		{"two, first current", "new:" + base64.RawURLEncoding.EncodeToString(b) + ", old:" + base64.StdEncoding.EncodeToString(a),
			[]string{"new", "old"}, ""},
		{"url alphabet padded", "k:" + base64.URLEncoding.EncodeToString(b), []string{"k"}, ""},
		{"no kid", base64.StdEncoding.EncodeToString(a), nil, "entry 1: want kid:base64key"},
		{"empty entry", "k1:" + base64.StdEncoding.EncodeToString(a) + ",", nil, "entry 2: want kid:base64key"},
		{"empty key", "k1:", nil, "entry 1: want kid:base64key"},
		{"not base64", "k1:not base64!", nil, `key "k1": not base64`},
		{"short", "k1:" + base64.StdEncoding.EncodeToString(a[:31]), nil, `key "k1" is 31 bytes: want at least 32`},
		{"bad kid", "k.1:" + base64.StdEncoding.EncodeToString(a), nil, `key id "k.1": want 1 to 32 letters, digits, '-' or '_'`},
		{"repeated kid", "k:" + base64.StdEncoding.EncodeToString(a) + ",k:" + base64.StdEncoding.EncodeToString(b), nil,
			`key id "k" appears twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ring, err := ParseKeyring(tt.in)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(a)[:20], "a key is never quoted")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.ids, ring.IDs())
			require.Equal(t, tt.ids[0], ring.Current().ID)
		})
	}

	ring, err := ParseKeyring(FormatKey(Key{ID: "x", Secret: b}))
	require.NoError(t, err, "FormatKey writes what ParseKeyring reads")
	require.Equal(t, b, ring.Current().Secret)
}

// A plain secret keeps its derivations and gets an id from its bytes, so
// what it sealed opens after it joins a keyring under that id.
func TestSingleKeyJoinsAKeyring(t *testing.T) {
	t.Parallel()

	const secret = "an old HERALD_SECRET of 32+ characters"
	k := SingleKey(secret)
	require.Equal(t, KeyID([]byte(secret)), k.ID)
	require.True(t, ValidKeyID(k.ID))
	require.Len(t, k.ID, 12)
	require.NotEqual(t, k.ID, KeyID([]byte(secret+"!")))
	require.NotContains(t, k.ID, secret[:4])

	old, err := NewKeyring(k)
	require.NoError(t, err)
	sealed := old.Box("webhook-secrets").Seal("whsec_x", "we_1")
	legacy := sealV1(t, DeriveKey([]byte(secret), "webhook-secrets"), "whsec_y", "we_2")

	ring, err := ParseKeyring("new:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'n'}, 32)) + "," + FormatKey(k))
	require.NoError(t, err)
	box := ring.Box("webhook-secrets")
	plain, err := box.Open(sealed, "we_1")
	require.NoError(t, err)
	require.Equal(t, "whsec_x", plain)
	plain, err = box.Open(legacy, "we_2")
	require.NoError(t, err, "the derivation is the one Herald always used")
	require.Equal(t, "whsec_y", plain)
	_, err = ring.Box("idempotency-responses").Open(sealed, "we_1")
	require.ErrorIs(t, err, ErrOpen, "another purpose, another key")

	joined, err := ring.With(k, SingleKey("a third secret of at least 32 chars"))
	require.NoError(t, err, "the same key twice is one key")
	require.Equal(t, []string{"new", k.ID, KeyID([]byte("a third secret of at least 32 chars"))}, joined.IDs())
	_, err = ring.With(Key{ID: k.ID, Secret: bytes.Repeat([]byte{'z'}, 32)})
	require.EqualError(t, err, `key id "`+k.ID+`" appears twice with different keys`)
}

// MAC keys: the current key's derivation signs; the others are kept for
// checking what was signed before a rotation.
func TestMACKeys(t *testing.T) {
	t.Parallel()

	a, b := Key{ID: "a", Secret: bytes.Repeat([]byte{'a'}, 32)}, Key{ID: "b", Secret: bytes.Repeat([]byte{'b'}, 32)}
	ring, err := NewKeyring(b, a)
	require.NoError(t, err)
	current, previous := ring.MACKeys("pay-csrf")
	require.Equal(t, DeriveKey(b.Secret, "pay-csrf"), current)
	require.Equal(t, [][]byte{DeriveKey(a.Secret, "pay-csrf")}, previous)
	require.NotEqual(t, current, DeriveKey(b.Secret, "dashboard"))

	single, err := NewKeyring(a)
	require.NoError(t, err)
	_, previous = single.MACKeys("pay-csrf")
	require.Empty(t, previous)

	// A MAC under the current key or a previous one is valid; one under a
	// key that left the ring, or a truncated one, is not.
	current, previous = ring.MACKeys("pay-csrf")
	mac := func(key []byte) string { return string(DeriveKey(key, "msg")) }
	require.True(t, ValidMAC(mac(current), mac, current, previous))
	require.True(t, ValidMAC(mac(previous[0]), mac, current, previous))
	require.False(t, ValidMAC(mac(previous[0]), mac, current, nil), "the old key left the ring")
	require.False(t, ValidMAC(mac(current)[:10], mac, current, previous))
	require.False(t, ValidMAC("", mac, current, previous))
}
