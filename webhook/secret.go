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

// ErrInvalidSecret is returned (wrapped) for a signing secret that is not
// base64 or decodes to a key of the wrong size.
var ErrInvalidSecret = errors.New("webhook: invalid signing secret")

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
// dashboards and environment files. Errors wrap ErrInvalidSecret and never
// contain the secret.
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
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d to %d", ErrInvalidSecret, len(key), minKeyLen, maxKeyLen)
	}
	return key, nil
}
