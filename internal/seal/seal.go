// Package seal encrypts small secrets at rest (webhook signing secrets) with
// AES-256-GCM under a key derived from the server secret.
//
// Signing secrets cannot be hashed like API keys: Herald needs them back to
// compute HMACs. Sealing them means a leaked database alone reveals nothing.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrOpen is returned for a sealed value that is corrupt or was sealed
// under another key.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Box seals and opens values under one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext; context binds the result to its use (a row id,
// say), so a sealed value copied into another row does not open there.
// The result is "v1." + base64(nonce ‖ ciphertext).
func (b *Box) Seal(plaintext, context string) string {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails on supported platforms
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v1." + base64.RawStdEncoding.EncodeToString(out)
}

// Open decrypts a value made by Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	if len(sealed) < 3 || sealed[:3] != "v1." {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[3:])
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:b.aead.NonceSize()], raw[b.aead.NonceSize():], []byte(context))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
