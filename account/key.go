package account

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
)

// Rolling a key follows Stripe's "roll key": a new key is made and the old
// one keeps working for an overlap, so that every process using it can be
// moved to the new one; then it expires. Revoking ends a key at once.

// Key lifecycle defaults.
const (
	// DefaultKeyOverlap is how long a rolled key keeps working.
	DefaultKeyOverlap = 24 * time.Hour
	// MaxKeyOverlap bounds it.
	MaxKeyOverlap = 7 * 24 * time.Hour
)

// KeyIDPrefix starts every key's public id (key_…), by which it is
// listed, rolled and revoked; the key itself is never shown again.
const KeyIDPrefix = "key"

var (
	// ErrKeyNotFound means the merchant has no key with the id.
	ErrKeyNotFound = errors.New("api key not found")
	// ErrKeyInactive is returned for rolling a key that is revoked or has
	// expired: there is nothing left to roll.
	ErrKeyInactive = errors.New("api key revoked or expired")
	// ErrLastKey is returned for revoking a merchant's last key that does
	// not expire: the merchant would be locked out. Roll it instead (with
	// no overlap to end it at once).
	ErrLastKey = errors.New("the merchant's last active api key")
)

// NewKeyID returns a new key id (key_…).
func NewKeyID() string { return id.New(KeyIDPrefix) }

// KeyRef is who a valid key belongs to: its merchant, and which of the
// merchant's keys it is.
type KeyRef struct {
	MerchantID string
	KeyID      string
}

// KeyStatus is where a key is in its life.
type KeyStatus string

// Key statuses.
const (
	// KeyActive keys work and do not expire.
	KeyActive KeyStatus = "active"
	// KeyExpiring keys were rolled: they work until ExpiresAt.
	KeyExpiring KeyStatus = "expiring"
	// KeyExpired keys were rolled and their overlap is over.
	KeyExpired KeyStatus = "expired"
	// KeyRevoked keys were revoked.
	KeyRevoked KeyStatus = "revoked"
)

// APIKey is a merchant's secret key as it may be shown: its id, its hint
// and its life. The key itself exists only as a digest (KeyDigest), except
// in Secret, in the answer to the create or roll that made it.
type APIKey struct {
	ID         string
	MerchantID string
	// Hint is KeyHint of the key: its prefix and last four characters.
	Hint      string
	Created   time.Time
	ExpiresAt *time.Time
	RevokedAt *time.Time
	// Status is StatusAt the time the key was read.
	Status KeyStatus
	// Secret is the key, set only when it was just made.
	Secret string
}

// StatusAt is the key's status at now.
func (k APIKey) StatusAt(now time.Time) KeyStatus {
	switch {
	case k.RevokedAt != nil:
		return KeyRevoked
	case k.ExpiresAt == nil:
		return KeyActive
	case now.Before(*k.ExpiresAt):
		return KeyExpiring
	}
	return KeyExpired
}

// ValidAt reports whether the key authenticates at now: neither revoked
// nor past its expiry. (The store's lookup applies the same rule in SQL.)
func (k APIKey) ValidAt(now time.Time) bool {
	s := k.StatusAt(now)
	return s == KeyActive || s == KeyExpiring
}

// MarshalJSON renders the API object ("api_key", times in Unix seconds),
// with "secret" only when Secret is set.
func (k APIKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string    `json:"id"`
		Object    string    `json:"object"`
		Hint      string    `json:"hint"`
		Status    KeyStatus `json:"status"`
		Created   int64     `json:"created"`
		ExpiresAt *int64    `json:"expires_at"`
		RevokedAt *int64    `json:"revoked_at"`
		Secret    string    `json:"secret,omitempty"`
	}{k.ID, "api_key", k.Hint, k.Status, k.Created.Unix(), unixPtr(k.ExpiresAt), unixPtr(k.RevokedAt), k.Secret})
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.Unix()
	return &v
}

// ValidateOverlap checks how long a rolled key keeps working: 0 (it ends at
// once) to MaxKeyOverlap. Errors: *validation.Error naming param.
func ValidateOverlap(overlap time.Duration, param string) error {
	if overlap < 0 || overlap > MaxKeyOverlap {
		return &validation.Error{Param: param, Code: validation.CodeInvalid,
			Message: fmt.Sprintf("must be between 0 and %d seconds", int(MaxKeyOverlap.Seconds()))}
	}
	return nil
}

// RolledExpiry is when a key rolled at now with overlap stops working: now
// + overlap, or its earlier expiry if it was already rolled (a roll never
// extends a key's life).
func RolledExpiry(k APIKey, now time.Time, overlap time.Duration) time.Time {
	at := now.Add(overlap)
	if k.ExpiresAt != nil && k.ExpiresAt.Before(at) {
		return *k.ExpiresAt
	}
	return at
}

// RolledKey is the outcome of a roll: the new key, with its Secret, and
// the key rolled, with its expiry.
type RolledKey struct {
	Created  APIKey
	Previous APIKey
}

// MarshalJSON renders the new key's API object with the rolled one under
// "previous".
func (r RolledKey) MarshalJSON() ([]byte, error) {
	created, err := json.Marshal(r.Created)
	if err != nil {
		return nil, err
	}
	previous, err := json.Marshal(r.Previous)
	if err != nil {
		return nil, err
	}
	out := append(created[:len(created)-1:len(created)-1], `,"previous":`...)
	return append(append(out, previous...), '}'), nil
}
