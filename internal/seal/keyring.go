package seal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MinKeyLen is the shortest server key accepted, in bytes.
const MinKeyLen = 32

// maxKeyIDLen bounds a key id: it is written into every sealed value.
const maxKeyIDLen = 32

// Key is one server key: an id, written into every value sealed under it,
// and the secret bytes every purpose's key is derived from.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring is the server's keys, the current one first. Values are sealed
// and tokens signed under the current key; values sealed and tokens signed
// under any key of the ring are accepted. Rotating is putting a new key
// first, re-sealing what is stored (herald secrets rotate), then dropping
// the old key once nothing needs it.
type Keyring struct {
	keys []Key
}

// NewKeyring returns a keyring of keys, the first current. Errors: no key,
// a malformed or repeated id, a key shorter than MinKeyLen.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !ValidKeyID(k.ID) {
			return nil, fmt.Errorf("key id %q: want 1 to %d letters, digits, '-' or '_'", k.ID, maxKeyIDLen)
		}
		if seen[k.ID] {
			return nil, fmt.Errorf("key id %q appears twice", k.ID)
		}
		seen[k.ID] = true
		if len(k.Secret) < MinKeyLen {
			return nil, fmt.Errorf("key %q is %d bytes: want at least %d", k.ID, len(k.Secret), MinKeyLen)
		}
	}
	return &Keyring{keys: keys}, nil
}

// ParseKeyring reads HERALD_SECRETS: comma-separated "kid:base64key"
// entries, the first current. The key may be standard or URL base64,
// padded or not. Errors never quote a key.
func ParseKeyring(s string) (*Keyring, error) {
	var keys []Key
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		kid, encoded, ok := strings.Cut(entry, ":")
		if !ok || kid == "" || encoded == "" {
			return nil, fmt.Errorf("entry %d: want kid:base64key", i+1)
		}
		secret, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("key %q: not base64", kid)
		}
		keys = append(keys, Key{ID: kid, Secret: secret})
	}
	return NewKeyring(keys...)
}

// decodeKey accepts the base64 alphabets and paddings people paste.
func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// SingleKey is the key of a plain secret (HERALD_SECRET, or the development
// secret): its bytes, under the id KeyID derives from them, so that values
// sealed under it stay readable when it later joins a keyring.
func SingleKey(secret string) Key {
	return Key{ID: KeyID([]byte(secret)), Secret: []byte(secret)}
}

// KeyID is the id a key gets when none is given: a short hash of it,
// stable across restarts and telling nothing useful about the key.
func KeyID(secret []byte) string {
	m := hmac.New(sha256.New, []byte("herald key id"))
	m.Write(secret)
	return "k" + hex.EncodeToString(m.Sum(nil))[:11]
}

// ValidKeyID reports whether id may name a key: 1 to 32 letters, digits,
// '-' or '_' (no '.', which separates the parts of a sealed value, nor ':'
// or ',', which separate HERALD_SECRETS).
func ValidKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// FormatKey is k as one HERALD_SECRETS entry, kid:base64key.
func FormatKey(k Key) string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Secret)
}

// Current is the key new values are sealed and new tokens signed under.
func (r *Keyring) Current() Key { return r.keys[0] }

// IDs lists the key ids, the current one first.
func (r *Keyring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	return ids
}

// With returns the ring with older appended after its own keys, skipping
// one whose id the ring already has with the same secret. Errors: an id
// the ring has with another secret.
func (r *Keyring) With(older ...Key) (*Keyring, error) {
	keys := append([]Key(nil), r.keys...)
	for _, o := range older {
		dup := false
		for _, k := range keys {
			if k.ID == o.ID {
				if !hmac.Equal(k.Secret, o.Secret) {
					return nil, fmt.Errorf("key id %q appears twice with different keys", o.ID)
				}
				dup = true
			}
		}
		if !dup {
			keys = append(keys, o)
		}
	}
	return NewKeyring(keys...)
}

// Derive gives each use of the server keys its own keys, so that a value
// sealed or signed for one purpose is never valid for another: for every
// key of the ring, in order, HMAC-SHA256(key, "herald/"+purpose) under the
// same id.
func (r *Keyring) Derive(purpose string) []Key {
	out := make([]Key, len(r.keys))
	for i, k := range r.keys {
		out[i] = Key{ID: k.ID, Secret: DeriveKey(k.Secret, purpose)}
	}
	return out
}

// DeriveKey is one key's derivation for purpose (see Derive). It is the
// derivation Herald has always used, so values sealed before keyrings
// existed still open.
func DeriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("herald/" + purpose))
	return m.Sum(nil)
}

// MACKeys is Derive's keys for a MAC checked at once (a form token, a
// 3-D Secure reference): sign under current, accept a MAC under any of
// current and previous, so that what was handed out before a rotation
// still works while the old key is in the ring.
func (r *Keyring) MACKeys(purpose string) (current []byte, previous [][]byte) {
	keys := r.Derive(purpose)
	for _, k := range keys[1:] {
		previous = append(previous, k.Secret)
	}
	return keys[0].Secret, previous
}

// ValidMAC reports whether got is mac under current or any of previous (as
// MACKeys returns them), compared in constant time: a MAC handed out before
// a rotation stays valid while its key is in the ring.
func ValidMAC(got string, mac func(key []byte) string, current []byte, previous [][]byte) bool {
	if hmac.Equal([]byte(got), []byte(mac(current))) {
		return true
	}
	for _, k := range previous {
		if hmac.Equal([]byte(got), []byte(mac(k))) {
			return true
		}
	}
	return false
}

// Box returns a Box sealing under the current key's derivation for
// purpose and opening under any key's.
func (r *Keyring) Box(purpose string) *Box {
	b, err := NewBox(r.Derive(purpose)...)
	if err != nil {
		// Derived keys are 32 bytes with ids already checked.
		panic(err)
	}
	return b
}
