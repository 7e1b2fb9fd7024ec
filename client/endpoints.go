package client

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/heraldpay/herald/webhook"
)

// EventAll in EndpointParams.EnabledEvents subscribes an endpoint to every
// event type, present and future. Name single types with the webhook
// package's Type constants.
const EventAll = "*"

type (
	// WebhookEndpoint is webhook.WebhookEndpoint.
	WebhookEndpoint = webhook.WebhookEndpoint
	// EndpointHealth is webhook.EndpointHealth.
	EndpointHealth = webhook.EndpointHealth
)

const endpointsPath = "/v1/webhook_endpoints"

// EndpointParams creates or updates an endpoint. Nil fields are not sent:
// on update they leave the endpoint as it is; on create, URL and
// EnabledEvents are required. Use String and Bool for the pointers.
type EndpointParams struct {
	// URL is an absolute http(s) URL without credentials (https in
	// production).
	URL *string `json:"url,omitempty"`
	// EnabledEvents lists event types (webhook.TypeCheckoutSessionCompleted
	// …), or []string{EventAll}.
	EnabledEvents []string `json:"enabled_events,omitempty"`
	// Description is yours; String("") clears it.
	Description *string `json:"description,omitempty"`
	// Paused holds deliveries (true) or releases them at once (false).
	Paused *bool `json:"paused,omitempty"`
	// Status webhook.EndpointStatusEnabled re-enables a disabled endpoint
	// without redriving anything (a redrive of its skipped deliveries sends
	// what it missed); webhook.EndpointStatusDisabled cancels its pending
	// deliveries.
	Status *string `json:"status,omitempty"`
}

// String returns a pointer to s, for EndpointParams.
func String(s string) *string { return &s }

// Bool returns a pointer to b, for EndpointParams and DeliverySuccess.
func Bool(b bool) *bool { return &b }

// EndpointService is the webhook endpoints API: Client.Endpoints.
type EndpointService struct{ c *Client }

// Create subscribes a URL to events. The answer's Secret is the only time
// the signing secret is shown. Like every POST it carries an
// Idempotency-Key, so a retry never creates a second endpoint.
func (s *EndpointService) Create(ctx context.Context, params EndpointParams, opts ...RequestOption) (*WebhookEndpoint, error) {
	return send[WebhookEndpoint](ctx, s.c, http.MethodPost, endpointsPath, nil, params, opts)
}

// Get retrieves the endpoint with the given ID (without its secret).
func (s *EndpointService) Get(ctx context.Context, id string) (*WebhookEndpoint, error) {
	return get[WebhookEndpoint](ctx, s.c, endpointsPath, "endpoint", id)
}

// List iterates over the endpoints, newest first, fetching pages of
// params.Limit as it goes. An error ends the iteration.
func (s *EndpointService) List(ctx context.Context, params ListParams) iter.Seq2[*WebhookEndpoint, error] {
	return all(ctx, s.c, endpointsPath, params.query(), func(e *WebhookEndpoint) string { return e.ID })
}

// Page returns one page of endpoints, newest first.
func (s *EndpointService) Page(ctx context.Context, params ListParams) (*List[WebhookEndpoint], error) {
	return page[WebhookEndpoint](ctx, s.c, endpointsPath, params.query())
}

// Update changes the fields of params that are not nil. PATCH is retried
// only when opts include WithIdempotencyKey.
func (s *EndpointService) Update(ctx context.Context, id string, params EndpointParams, opts ...RequestOption) (*WebhookEndpoint, error) {
	path, err := objectPath(endpointsPath, "endpoint", id, "")
	if err != nil {
		return nil, err
	}
	return send[WebhookEndpoint](ctx, s.c, http.MethodPatch, path, nil, params, opts)
}

// Delete removes an endpoint and cancels its pending deliveries. It is
// retried like any DELETE; when the answer to a first attempt was lost
// after the server acted, the retry answers 404 (resource_missing).
func (s *EndpointService) Delete(ctx context.Context, id string) error {
	path, err := objectPath(endpointsPath, "endpoint", id, "")
	if err != nil {
		return err
	}
	return s.c.do(ctx, http.MethodDelete, path, nil, nil, nil, nil)
}

// RollSecret replaces an endpoint's signing secret and returns the endpoint
// with the new Secret. The previous secret keeps signing too for
// expirePreviousIn (sent in whole seconds, rounded down; 0 retires it at
// once; Herald accepts up to 7 days and suggests 24 hours), so receivers can
// switch over without rejecting deliveries.
func (s *EndpointService) RollSecret(ctx context.Context, id string, expirePreviousIn time.Duration, opts ...RequestOption) (*WebhookEndpoint, error) {
	body := struct {
		ExpirePreviousIn int64 `json:"expire_previous_in"`
	}{int64(expirePreviousIn / time.Second)}
	return post[WebhookEndpoint](ctx, s.c, endpointsPath, "endpoint", id, "roll_secret", body, opts)
}

// Test sends a signed test.ping event (its payload: the endpoint) to this
// endpoint only, through the normal delivery path, and returns its
// delivery: follow it with Deliveries.Get. No endpoint subscribes to
// test.ping, and its failure raises no delivery.failed. Herald answers 409
// (endpoint_disabled) for a disabled endpoint.
func (s *EndpointService) Test(ctx context.Context, id string, opts ...RequestOption) (*Delivery, error) {
	return post[Delivery](ctx, s.c, endpointsPath, "endpoint", id, "test", nil, opts)
}
