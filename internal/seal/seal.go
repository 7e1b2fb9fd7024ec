// Package seal holds the server's keyring and encrypts small secrets at
// rest (webhook signing secrets, idempotent responses) with AES-256-GCM
// under keys derived from it.
//
// Signing secrets cannot be hashed like API keys: Herald needs them back to
// compute HMACs. Sealing them means a leaked database alone reveals nothing.
//
// A sealed value names the key it was sealed under ("v2.<kid>.<base64>"),
// so that a Box holding several keys (a keyring being rotated) opens it
// with the right one, and a re-seal pass can tell what is left to do.
// Values sealed before keyrings existed ("v1.<base64>", no key id) still
// open: every key of the Box is tried.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrOpen is returned for a sealed value that is corrupt or was sealed
// under another key.
var ErrOpen = errors.New("seal: cannot open sealed value")

// ErrUnknownKey is returned (wrapped, with the key id) for a value sealed
// under a key that is not in the Box: a key dropped from the keyring
// before every value was re-sealed. It is an ErrOpen.
var ErrUnknownKey = fmt.Errorf("%w: sealed under a key that is not in the keyring", ErrOpen)

// Sealed value formats.
const (
	prefixV1 = "v1."
	prefixV2 = "v2."
)

// Box seals under one key and opens under any of several. It is safe for
// concurrent use.
type Box struct {
	current string
	order   []string
	aeads   map[string]cipher.AEAD
}

// New returns a Box for one 32-byte key, under the id KeyID gives it.
func New(key []byte) (*Box, error) {
	return NewBox(Key{ID: KeyID(key), Secret: key})
}

// NewBox returns a Box sealing under keys[0] and opening under any of keys.
// Each key must be 32 bytes.
func NewBox(keys ...Key) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	b := &Box{current: keys[0].ID, aeads: map[string]cipher.AEAD{}}
	for _, k := range keys {
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("seal: key must be 32 bytes, got %d", len(k.Secret))
		}
		if !ValidKeyID(k.ID) {
			return nil, fmt.Errorf("seal: invalid key id %q", k.ID)
		}
		if _, dup := b.aeads[k.ID]; dup {
			return nil, fmt.Errorf("seal: key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		b.aeads[k.ID] = aead
		b.order = append(b.order, k.ID)
	}
	return b, nil
}

// CurrentID is the id of the key Seal uses.
func (b *Box) CurrentID() string { return b.current }

// CurrentPrefix is how every value sealed under the current key starts, for
// finding in SQL those that are not.
func (b *Box) CurrentPrefix() string { return prefixV2 + b.current + "." }

// Seal encrypts plaintext under the current key; context binds the result
// to its use (a row id, say), so a sealed value copied into another row
// does not open there. The result is "v2." + key id + "." +
// base64(nonce ‖ ciphertext).
func (b *Box) Seal(plaintext, context string) string {
	aead := b.aeads[b.current]
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails on supported platforms
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return b.CurrentPrefix() + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal (under any key of the Box) with the
// same context. Errors: ErrUnknownKey (wrapped, naming the key id) for a
// value sealed under a key the Box lacks, ErrOpen for anything else.
func (b *Box) Open(sealed, context string) (string, error) {
	if rest, ok := strings.CutPrefix(sealed, prefixV2); ok {
		kid, payload, ok := strings.Cut(rest, ".")
		if !ok || !ValidKeyID(kid) {
			return "", ErrOpen
		}
		aead, known := b.aeads[kid]
		if !known {
			return "", fmt.Errorf("%w: %q", ErrUnknownKey, kid)
		}
		return open(aead, payload, context)
	}
	if payload, ok := strings.CutPrefix(sealed, prefixV1); ok {
		// No key id: whichever key authenticates it sealed it.
		for _, kid := range b.order {
			if plain, err := open(b.aeads[kid], payload, context); err == nil {
				return plain, nil
			}
		}
	}
	return "", ErrOpen
}

func open(aead cipher.AEAD, payload, context string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(payload)
	if err != nil || len(raw) < aead.NonceSize() {
		return "", ErrOpen
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

// IsCurrent reports whether sealed is under the current key (nothing for a
// re-seal to do).
func (b *Box) IsCurrent(sealed string) bool { return strings.HasPrefix(sealed, b.CurrentPrefix()) }

// Reseal opens sealed and seals it again under the current key. Errors:
// Open's.
func (b *Box) Reseal(sealed, context string) (string, error) {
	plain, err := b.Open(sealed, context)
	if err != nil {
		return "", err
	}
	return b.Seal(plain, context), nil
}

// SealedKeyID returns the id of the key a value was sealed under, or ""
// for a value that does not say (the v1 format, or garbage).
func SealedKeyID(sealed string) string {
	rest, ok := strings.CutPrefix(sealed, prefixV2)
	if !ok {
		return ""
	}
	kid, _, ok := strings.Cut(rest, ".")
	if !ok || !ValidKeyID(kid) {
		return ""
	}
	return kid
}

// Tally counts what a re-seal pass did to one kind of stored value.
type Tally struct {
	// Resealed values were opened and written back sealed under the
	// current key.
	Resealed int
	// Changed values were replaced by someone else while being re-sealed
	// (a secret rolled, a response stored): left to them, since what they
	// wrote is sealed under the current key, or to a next pass.
	Changed int
	// Unreadable values could not be opened and were left as they were:
	// sealed under a key the ring lacks (UnknownKeys lists those ids), or
	// corrupt.
	Unreadable  int
	UnknownKeys []string
}

// Reseal re-seals one value of a pass under b's current key: the new value
// and true, or false for a value that cannot be opened, which is counted.
func (t *Tally) Reseal(b *Box, sealed, context string) (string, bool) {
	out, err := b.Reseal(sealed, context)
	if err != nil {
		t.Unreadable++
		if kid := SealedKeyID(sealed); kid != "" && errors.Is(err, ErrUnknownKey) && !slices.Contains(t.UnknownKeys, kid) {
			t.UnknownKeys = append(t.UnknownKeys, kid)
		}
		return "", false
	}
	return out, true
}

// Add adds o's counts to t's.
func (t *Tally) Add(o Tally) {
	t.Resealed += o.Resealed
	t.Changed += o.Changed
	t.Unreadable += o.Unreadable
	for _, kid := range o.UnknownKeys {
		if !slices.Contains(t.UnknownKeys, kid) {
			t.UnknownKeys = append(t.UnknownKeys, kid)
		}
	}
}

// Written counts the write of a value Reseal gave: Resealed when it took,
// Changed when the stored value had changed meanwhile (a compare-and-set
// that matched no row).
func (t *Tally) Written(took bool) {
	if took {
		t.Resealed++
	} else {
		t.Changed++
	}
}
