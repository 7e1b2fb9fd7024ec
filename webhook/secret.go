package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretPrefix marks a Standard Webhooks signing secret: "whsec_" followed
// by the base64 of the HMAC key.
const SecretPrefix = "whsec_"

// Key sizes ParseSecret accepts. 24 bytes is the floor because the
// specification's own test secret is that long; 64 bytes is SHA-256's block
// size, beyond which HMAC hashes the key down and extra bytes add nothing.
const (
	minKeyLen = 24
	maxKeyLen = 64
	newKeyLen = 32
)

// Errors of ParseSecret, NewVerifier and NewVerifierRaw, wrapped; test with
// errors.Is.
var (
	// ErrInvalidSecret is returned for a signing secret that is not base64,
	// or a key (decoded or raw) of the wrong size, or no secret at all.
	ErrInvalidSecret = errors.New("webhook: invalid signing secret")
	// ErrEmptyKey is returned, together with ErrInvalidSecret, for a key of
	// zero bytes: HMAC accepts it, so anyone could sign messages a Verifier
	// built on it would accept.
	ErrEmptyKey = errors.New("webhook: empty signing key")
)

// NewSecret returns a fresh signing secret: SecretPrefix followed by the
// padded standard base64 of 32 random bytes.
func NewSecret() string {
	key := make([]byte, newKeyLen)
	_, _ = rand.Read(key) // never fails since Go 1.24: it crashes the program instead
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the HMAC key of a signing secret. It accepts the
// secret with or without SecretPrefix, in padded or unpadded standard
// base64, and ignores surrounding whitespace, since secrets are pasted from
// dashboards and environment files. Errors wrap ErrInvalidSecret (and
// ErrEmptyKey for a secret with no key bytes) and never contain the secret.
func ParseSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), SecretPrefix)
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding // a padded encoding is always a multiple of 4
	}
	key, err := enc.DecodeString(s)
	if err != nil {
		// CorruptInputError reports only an offset, so it is safe to wrap.
		return nil, fmt.Errorf("%w: not base64: %w", ErrInvalidSecret, err)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// checkKey applies the key sizes to a decoded or raw key, so that
// ParseSecret, NewVerifier and NewVerifierRaw accept exactly the same keys.
func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: %w", ErrInvalidSecret, ErrEmptyKey)
	case len(key) < minKeyLen || len(key) > maxKeyLen:
		return fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrInvalidSecret, len(key), minKeyLen, maxKeyLen)
	}
	return nil
}
