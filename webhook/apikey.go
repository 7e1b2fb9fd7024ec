package webhook

import (
	"encoding/json"
	"time"
)

// API key statuses, as in APIKey.Status.
const (
	APIKeyStatusActive   = "active"   // works and does not expire
	APIKeyStatusExpiring = "expiring" // rolled: works until ExpiresAt
	APIKeyStatusExpired  = "expired"  // rolled, and its overlap is over
	APIKeyStatusRevoked  = "revoked"  // ended at once
)

// APIKey is one of a merchant's secret API keys, as the API lists it. The
// key itself is never shown again after it is made: Hint is enough of it
// for a person to tell keys apart. Times the API sends as null
// are zero: test them with IsZero.
type APIKey struct {
	// ID is the key's id, key_…; it is not the key.
	ID string `json:"id"`
	// Object is always "api_key".
	Object string `json:"object"`
	// Hint is the key's prefix and last four characters, as sk_test_…Wx3q.
	Hint string `json:"hint"`
	// Status is one of the APIKeyStatus constants.
	Status string `json:"status"`
	// Secret is the sk_… key itself, only in the answer to the roll that
	// made it: store it then. It is "" everywhere else.
	Secret string `json:"secret,omitempty"`
	// Created is when the key was made; ExpiresAt when a rolled key stops
	// working; RevokedAt when it was revoked.
	Created, ExpiresAt, RevokedAt time.Time `json:"-"`
	// Previous is, in the answer to a roll, the key rolled with its new
	// expiry; nil elsewhere.
	Previous *APIKey `json:"previous,omitempty"`
}

type plainAPIKey APIKey

type apiKeyWire struct {
	*plainAPIKey
	Created   *int64 `json:"created"`
	ExpiresAt *int64 `json:"expires_at"`
	RevokedAt *int64 `json:"revoked_at"`
}

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (k *APIKey) UnmarshalJSON(data []byte) error {
	wire := apiKeyWire{plainAPIKey: (*plainAPIKey)(k)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	k.Created, k.ExpiresAt, k.RevokedAt = fromUnix(wire.Created), fromUnix(wire.ExpiresAt), fromUnix(wire.RevokedAt)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero times as
// null.
func (k APIKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(apiKeyWire{plainAPIKey: (*plainAPIKey)(&k),
		Created: toUnix(k.Created), ExpiresAt: toUnix(k.ExpiresAt), RevokedAt: toUnix(k.RevokedAt)})
}
