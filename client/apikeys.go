package client

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/heraldpay/herald/webhook"
)

// APIKey is webhook.APIKey.
type APIKey = webhook.APIKey

const apiKeysPath = "/v1/api_keys"

// RollParams rolls the API key a request authenticates with.
type RollParams struct {
	// ExpirePreviousIn is how long the rolled key keeps working, so that
	// every process can move to the new key: 0 ends it at once, nil leaves
	// Herald's default (24 hours); whole seconds, at most 7 days.
	ExpirePreviousIn *time.Duration
}

// Duration returns a pointer to d, for RollParams.
func Duration(d time.Duration) *time.Duration { return &d }

// APIKeyService is the API keys API: Client.APIKeys. Keys are the
// merchant's own; no key ever sees another merchant's.
type APIKeyService struct{ c *Client }

// List iterates over the merchant's API keys, newest first (never the keys
// themselves: their ids, hints and lives).
func (s *APIKeyService) List(ctx context.Context, params ListParams) iter.Seq2[*APIKey, error] {
	return all(ctx, s.c, apiKeysPath, params.query(), func(k *APIKey) string { return k.ID })
}

// Page returns one page of the merchant's API keys, newest first.
func (s *APIKeyService) Page(ctx context.Context, params ListParams) (*List[APIKey], error) {
	return page[APIKey](ctx, s.c, apiKeysPath, params.query())
}

// Roll makes a new API key in place of the one this Client authenticates
// with and sets the old one's expiry. The answer's Secret is the only time
// the new key is shown, and its Previous is the rolled key. The Client
// keeps using the old key: make a new Client with the new one.
func (s *APIKeyService) Roll(ctx context.Context, params RollParams, opts ...RequestOption) (*APIKey, error) {
	body := struct {
		ExpirePreviousIn *int64 `json:"expire_previous_in,omitempty"`
	}{}
	if d := params.ExpirePreviousIn; d != nil {
		secs := int64(*d / time.Second)
		body.ExpirePreviousIn = &secs
	}
	var k APIKey
	if err := s.c.do(ctx, http.MethodPost, apiKeysPath+"/roll", nil, body, &k, opts); err != nil {
		return nil, err
	}
	return &k, nil
}

// Revoke ends the API key with the given ID at once, whichever of the
// merchant's keys the Client uses. Herald refuses (409,
// last_active_api_key) to revoke the last key that does not expire: roll
// it instead.
func (s *APIKeyService) Revoke(ctx context.Context, id string, opts ...RequestOption) (*APIKey, error) {
	return post[APIKey](ctx, s.c, apiKeysPath, "api key", id, "revoke", nil, opts)
}
