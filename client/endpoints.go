package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Event types an endpoint can subscribe to, for EndpointParams.EnabledEvents.
const (
	// EventAll subscribes to every event type, present and future.
	EventAll = "*"
	// EventCheckoutSessionCompleted fires once a session is paid: the
	// fulfilment signal.
	EventCheckoutSessionCompleted = "checkout.session.completed"
	// EventCheckoutSessionExpired fires when a session expires unpaid.
	EventCheckoutSessionExpired = "checkout.session.expired"
	// EventChargeSucceeded fires for every successful charge.
	EventChargeSucceeded = "charge.succeeded"
	// EventChargeFailed fires for every declined or blocked charge.
	EventChargeFailed = "charge.failed"
)

// Endpoint statuses, as in WebhookEndpoint.Status and EndpointParams.Status.
const (
	EndpointStatusEnabled  = "enabled"
	EndpointStatusDisabled = "disabled"
)

// Circuit breaker states, as in EndpointHealth.BreakerState.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

const endpointsPath = "/v1/webhook_endpoints"

// WebhookEndpoint is a URL of yours subscribed to event types, as the API
// returns it. A null DisabledReason is "". Created is a UTC time (Unix
// seconds on the wire, and again from json.Marshal).
type WebhookEndpoint struct {
	// ID is the endpoint's id, we_….
	ID string `json:"id"`
	// Object is always "webhook_endpoint".
	Object string `json:"object"`
	// URL receives the events.
	URL string `json:"url"`
	// Description is yours.
	Description string `json:"description"`
	// EnabledEvents lists the subscribed event types; ["*"] for all.
	EnabledEvents []string `json:"enabled_events"`
	// Status is one of the EndpointStatus constants.
	Status string `json:"status"`
	// DisabledReason says why a disabled endpoint is disabled (such as a
	// 410 Gone answer); "" while it is enabled.
	DisabledReason string `json:"disabled_reason"`
	// Paused is set while deliveries are held.
	Paused bool `json:"paused"`
	// Secret is the whsec_… signing secret for verifying deliveries. The
	// API shows it only in the answers to CreateEndpoint and
	// RollEndpointSecret: store it then. It is "" everywhere else.
	Secret string `json:"secret,omitempty"`
	// Health is the delivery engine's view of the endpoint.
	Health EndpointHealth `json:"health"`
	// Created is when the endpoint was created.
	Created time.Time `json:"created"`
}

// UnmarshalJSON decodes the API object, converting Unix-second times.
func (e *WebhookEndpoint) UnmarshalJSON(data []byte) error {
	type plain WebhookEndpoint // see CheckoutSession.UnmarshalJSON
	wire := struct {
		*plain
		Created *int64 `json:"created"`
	}{plain: (*plain)(e)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	e.Created = fromUnix(wire.Created)
	return nil
}

// MarshalJSON encodes the API object, with times in Unix seconds.
func (e WebhookEndpoint) MarshalJSON() ([]byte, error) {
	type plain WebhookEndpoint
	return json.Marshal(struct {
		*plain
		Created *int64 `json:"created"`
	}{plain: (*plain)(&e), Created: toUnix(e.Created)})
}

// EndpointHealth is how deliveries to an endpoint have been going. Times
// the API sends as null are zero: test them with IsZero.
type EndpointHealth struct {
	// BreakerState is one of the Breaker constants: open while Herald
	// holds deliveries back after repeated failures.
	BreakerState string `json:"breaker_state"`
	// LastSuccessAt is the last successful delivery; zero if none yet.
	LastSuccessAt time.Time `json:"last_success_at"`
	// FailingSince is the first failure of the current run of failures;
	// zero while deliveries succeed.
	FailingSince time.Time `json:"failing_since"`
}

// UnmarshalJSON decodes the API object, converting Unix-second times.
func (h *EndpointHealth) UnmarshalJSON(data []byte) error {
	type plain EndpointHealth
	wire := struct {
		*plain
		LastSuccessAt *int64 `json:"last_success_at"`
		FailingSince  *int64 `json:"failing_since"`
	}{plain: (*plain)(h)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	h.LastSuccessAt, h.FailingSince = fromUnix(wire.LastSuccessAt), fromUnix(wire.FailingSince)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero as null.
func (h EndpointHealth) MarshalJSON() ([]byte, error) {
	type plain EndpointHealth
	return json.Marshal(struct {
		*plain
		LastSuccessAt *int64 `json:"last_success_at"`
		FailingSince  *int64 `json:"failing_since"`
	}{plain: (*plain)(&h), LastSuccessAt: toUnix(h.LastSuccessAt), FailingSince: toUnix(h.FailingSince)})
}

// EndpointParams creates or updates an endpoint. Nil fields are not sent:
// on update they leave the endpoint as it is; on create, URL and
// EnabledEvents are required. Use String and Bool for the pointers.
type EndpointParams struct {
	// URL is an absolute http(s) URL without credentials (https in
	// production).
	URL *string `json:"url,omitempty"`
	// EnabledEvents lists event types, or []string{EventAll}.
	EnabledEvents []string `json:"enabled_events,omitempty"`
	// Description is yours; String("") clears it.
	Description *string `json:"description,omitempty"`
	// Paused holds deliveries (true) or releases them at once (false).
	Paused *bool `json:"paused,omitempty"`
	// Status EndpointStatusEnabled re-enables a disabled endpoint without
	// redriving anything; EndpointStatusDisabled cancels its pending
	// deliveries.
	Status *string `json:"status,omitempty"`
}

// String returns a pointer to s, for EndpointParams.
func String(s string) *string { return &s }

// Bool returns a pointer to b, for EndpointParams.
func Bool(b bool) *bool { return &b }

// CreateEndpoint subscribes a URL to events. The answer's Secret is the
// only time the signing secret is shown. Like every POST it carries an
// Idempotency-Key, so a retry never creates a second endpoint.
func (c *Client) CreateEndpoint(ctx context.Context, params EndpointParams, opts ...RequestOption) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	if err := c.do(ctx, http.MethodPost, endpointsPath, nil, params, &e, opts); err != nil {
		return nil, err
	}
	return &e, nil
}

// GetEndpoint retrieves the endpoint with the given ID (without its
// secret).
func (c *Client) GetEndpoint(ctx context.Context, id string) (*WebhookEndpoint, error) {
	path, err := objectPath(endpointsPath, "endpoint", id, "")
	if err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	if err := c.do(ctx, http.MethodGet, path, nil, nil, &e, nil); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListEndpoints returns a page of endpoints, newest first.
func (c *Client) ListEndpoints(ctx context.Context, params ListParams) (*List[WebhookEndpoint], error) {
	var l List[WebhookEndpoint]
	if err := c.do(ctx, http.MethodGet, endpointsPath, params.query(), nil, &l, nil); err != nil {
		return nil, err
	}
	return &l, nil
}

// UpdateEndpoint changes the fields of params that are not nil. PATCH is
// retried only when opts include WithIdempotencyKey.
func (c *Client) UpdateEndpoint(ctx context.Context, id string, params EndpointParams, opts ...RequestOption) (*WebhookEndpoint, error) {
	path, err := objectPath(endpointsPath, "endpoint", id, "")
	if err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	if err := c.do(ctx, http.MethodPatch, path, nil, params, &e, opts); err != nil {
		return nil, err
	}
	return &e, nil
}

// DeleteEndpoint removes an endpoint and cancels its pending deliveries.
// It is retried like any DELETE; when the answer to a first attempt was
// lost after the server acted, the retry answers 404 (resource_missing).
func (c *Client) DeleteEndpoint(ctx context.Context, id string) error {
	path, err := objectPath(endpointsPath, "endpoint", id, "")
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, path, nil, nil, nil, nil)
}

// RollEndpointSecret replaces an endpoint's signing secret and returns the
// endpoint with the new Secret. The previous secret keeps signing too for
// expirePreviousIn (sent in whole seconds, rounded down; 0 retires it at
// once; Herald accepts up to 7 days and suggests 24 hours), so receivers
// can switch over without rejecting deliveries.
func (c *Client) RollEndpointSecret(ctx context.Context, id string, expirePreviousIn time.Duration, opts ...RequestOption) (*WebhookEndpoint, error) {
	path, err := objectPath(endpointsPath, "endpoint", id, "roll_secret")
	if err != nil {
		return nil, err
	}
	body := struct {
		ExpirePreviousIn int64 `json:"expire_previous_in"`
	}{int64(expirePreviousIn / time.Second)}
	var e WebhookEndpoint
	if err := c.do(ctx, http.MethodPost, path, nil, body, &e, opts); err != nil {
		return nil, err
	}
	return &e, nil
}
