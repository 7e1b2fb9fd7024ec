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
// with. The old key keeps working for expirePreviousIn (sent in whole
// seconds, rounded down; 0 ends it at once; Herald accepts up to 7 days and
// suggests 24 hours), so every process can move to the new key. The
// answer's Secret is the only time the new key is shown, and its Previous
// is the rolled key with its expiry. The Client keeps the old key: make a
// new Client with the new one.
func (s *APIKeyService) Roll(ctx context.Context, expirePreviousIn time.Duration, opts ...RequestOption) (*APIKey, error) {
	body := struct {
		ExpirePreviousIn int64 `json:"expire_previous_in"`
	}{int64(expirePreviousIn / time.Second)}
	return send[APIKey](ctx, s.c, http.MethodPost, apiKeysPath+"/roll", nil, body, opts)
}

// Revoke ends the API key with the given ID at once, whichever of the
// merchant's keys the Client uses. Herald refuses (409,
// last_active_api_key) to revoke the last key that does not expire: roll
// it instead.
func (s *APIKeyService) Revoke(ctx context.Context, id string, opts ...RequestOption) (*APIKey, error) {
	return post[APIKey](ctx, s.c, apiKeysPath, "api key", id, "revoke", nil, opts)
}
