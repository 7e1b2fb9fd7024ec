// Package account is the domain of merchants and their secret API keys: the
// Merchant type and its validation, the key format, the errors, and the
// Service the rest of Herald reaches merchants through. It imports no
// database driver; package accountpg stores it in PostgreSQL.
//
// Keys are random (sk_test_ + 32 base62 characters, ~190 bits) and stored
// only as SHA-256 digests: a key that is high-entropy needs no slow hash,
// and a leaked database yields no usable key.
package account

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
)

// KeyPrefix starts every secret key. Herald only has a test mode: its
// acquirer is a simulated card network.
const KeyPrefix = "sk_test_"

// keyRandomLen is the number of base62 characters after KeyPrefix.
const keyRandomLen = 32

// maxKeyLen bounds what is even looked up: no real key comes close.
const maxKeyLen = 200

// DefaultAccentColor is used when a merchant sets none.
const DefaultAccentColor = "#4f46e5"

var (
	// ErrInvalidKey is returned by Authenticate for unknown, malformed or
	// revoked keys. Callers must not tell these cases apart to the client.
	ErrInvalidKey = errors.New("invalid API key")
	// ErrNotFound means no merchant has the id.
	ErrNotFound = errors.New("merchant not found")
)

// Service is how Herald reaches merchants and their keys. Consumers declare
// the methods they need (httpapi.KeyAuthenticator,
// checkoutpg.MerchantFinder) or take the part they share (KeyService, for
// the API's and the dashboard's keys); accountpg.Store implements all of it.
type Service interface {
	// Create validates m, stores it with a new id and returns it with a new
	// secret key. The key is not stored and cannot be shown again. Errors:
	// Validate's.
	Create(ctx context.Context, m Merchant) (Merchant, string, error)
	// Authenticate returns the merchant owning key and the key's id, if the
	// key is neither revoked nor expired. Errors: ErrInvalidKey.
	Authenticate(ctx context.Context, key string) (KeyRef, error)
	// Find returns the merchant with the id. Errors: ErrNotFound.
	Find(ctx context.Context, merchantID string) (Merchant, error)
	KeyService
}

// KeyService is what is done with a merchant's API keys after they
// authenticate: by the merchant through the API, or by an operator in the
// dashboard.
type KeyService interface {
	// ListKeys returns a page of the merchant's keys, newest first, revoked
	// and expired ones included, never a Secret, and whether more follow.
	// startingAfter is the id of the last key of the previous page.
	// Errors: *validation.Error (starting_after) for a cursor that is not
	// one of the merchant's keys.
	ListKeys(ctx context.Context, merchantID string, limit int, startingAfter string) ([]APIKey, bool, error)
	// RollKey makes the merchant a new key and has keyID expire at
	// RolledExpiry (overlap 0: at once). It returns the new key, with its
	// Secret (shown this once), and the rolled one. Errors:
	// ErrKeyNotFound, ErrKeyInactive, *validation.Error
	// (expire_previous_in) for an overlap ValidateOverlap refuses.
	RollKey(ctx context.Context, merchantID, keyID string, overlap time.Duration) (created, rolled APIKey, err error)
	// RevokeKey ends keyID at once; revoking a revoked key changes
	// nothing. Errors: ErrKeyNotFound, ErrLastKey.
	RevokeKey(ctx context.Context, merchantID, keyID string) (APIKey, error)
}

// Merchant is an account that creates checkout sessions and receives
// webhooks.
type Merchant struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	LogoURL     string    `json:"logo_url"`
	AccentColor string    `json:"accent_color"`
	Created     time.Time `json:"-"`
}

var accentRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Validate normalises m in place and reports the first invalid field.
func (m *Merchant) Validate() error {
	m.Name = strings.TrimSpace(m.Name)
	if m.Name == "" || utf8.RuneCountInString(m.Name) > 100 {
		return errors.New("name must be 1 to 100 characters")
	}
	if validation.HasControl(m.Name) || validation.HasControl(m.LogoURL) {
		return errors.New("name and logo URL must not contain control characters")
	}
	if m.LogoURL != "" {
		u, err := url.Parse(m.LogoURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("logo URL must be an absolute http(s) URL")
		}
	}
	m.AccentColor = strings.ToLower(strings.TrimSpace(m.AccentColor))
	if m.AccentColor == "" {
		m.AccentColor = DefaultAccentColor
	}
	if !accentRE.MatchString(m.AccentColor) {
		return errors.New("accent colour must look like #1a2b3c")
	}
	return nil
}

// NewMerchantID returns a new merchant id (acct_…).
func NewMerchantID() string { return id.New("acct") }

// NewKey returns a new secret key: KeyPrefix and 32 random base62
// characters.
func NewKey() string { return KeyPrefix + id.Random(keyRandomLen) }

// PlausibleKey reports whether key has the shape of a secret key. Anything
// else is ErrInvalidKey without a lookup.
func PlausibleKey(key string) bool {
	return strings.HasPrefix(key, KeyPrefix) && len(key) <= maxKeyLen
}

// KeyDigest is what is stored of a key, and what it is looked up by: its
// SHA-256. Timing of the lookup then reveals nothing about a stored key: an
// attacker would have to find SHA-256 preimages.
func KeyDigest(key string) []byte {
	d := sha256.Sum256([]byte(key))
	return d[:]
}

// KeyHint is what may be shown of a stored key, e.g. "sk_test_…Wx3q": the
// prefix and the last four characters, too little to guess the rest.
func KeyHint(key string) string {
	return KeyPrefix + "…" + key[max(len(key)-4, 0):]
}
