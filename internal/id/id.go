// Package id makes Herald's prefixed, unguessable object identifiers
// (cs_…, evt_…, ch_…) and secret API keys.
package id

import (
	"crypto/rand"
	"strings"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomLen is the number of base62 characters after the prefix: 24 characters
// carry about 143 bits, so identifiers double as capabilities (a session id
// is the only thing guarding the hosted payment page).
const randomLen = 24

// New returns prefix + "_" + 24 random base62 characters, e.g. New("cs").
func New(prefix string) string {
	return prefix + "_" + Random(randomLen)
}

// Random returns n characters drawn uniformly from [0-9A-Za-z] using
// crypto/rand.
func Random(n int) string {
	var b strings.Builder
	b.Grow(n)
	buf := make([]byte, n+n/2)
	for b.Len() < n {
		// crypto/rand.Read never returns an error on supported platforms.
		_, _ = rand.Read(buf)
		for _, c := range buf {
			// Rejection sampling: 62*4 = 248, so bytes >= 248 would bias the
			// first characters of the alphabet.
			if c >= 248 {
				continue
			}
			b.WriteByte(alphabet[c%62])
			if b.Len() == n {
				break
			}
		}
	}
	return b.String()
}

// HasPrefix reports whether s looks like an identifier made by New(prefix):
// the prefix, an underscore and base62 characters only. It lets handlers
// answer 404 for garbage without a database round trip.
func HasPrefix(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || rest == "" || len(rest) > 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}
