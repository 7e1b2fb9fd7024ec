package webhook

import (
	"encoding/json"
	"time"
)

// Endpoint statuses, as in WebhookEndpoint.Status.
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

// WebhookEndpoint is a URL of the merchant's subscribed to event types, as
// the API returns it and as webhook_endpoint.disabled events carry it. A
// null DisabledReason is "".
type WebhookEndpoint struct {
	// ID is the endpoint's id, we_….
	ID string `json:"id"`
	// Object is always "webhook_endpoint".
	Object string `json:"object"`
	// URL receives the events.
	URL string `json:"url"`
	// Description is the merchant's.
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
	// API shows it only in the answers to creating the endpoint and rolling
	// its secret: store it then. It is "" everywhere else.
	Secret string `json:"secret,omitempty"`
	// Health is the delivery engine's view of the endpoint.
	Health EndpointHealth `json:"health"`
	// Created is when the endpoint was created.
	Created time.Time `json:"created"`
}

type plainEndpoint WebhookEndpoint

type endpointWire struct {
	*plainEndpoint
	DisabledReason *string `json:"disabled_reason"`
	Created        *int64  `json:"created"`
}

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (e *WebhookEndpoint) UnmarshalJSON(data []byte) error {
	wire := endpointWire{plainEndpoint: (*plainEndpoint)(e)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	e.DisabledReason, e.Created = fromNullString(wire.DisabledReason), fromUnix(wire.Created)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero values
// of nullable fields as null.
func (e WebhookEndpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(endpointWire{plainEndpoint: (*plainEndpoint)(&e),
		DisabledReason: toNullString(e.DisabledReason), Created: toUnix(e.Created)})
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

type plainHealth EndpointHealth

type healthWire struct {
	*plainHealth
	LastSuccessAt *int64 `json:"last_success_at"`
	FailingSince  *int64 `json:"failing_since"`
}

// UnmarshalJSON decodes the API object, converting Unix-second times.
func (h *EndpointHealth) UnmarshalJSON(data []byte) error {
	wire := healthWire{plainHealth: (*plainHealth)(h)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	h.LastSuccessAt, h.FailingSince = fromUnix(wire.LastSuccessAt), fromUnix(wire.FailingSince)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero as null.
func (h EndpointHealth) MarshalJSON() ([]byte, error) {
	return json.Marshal(healthWire{plainHealth: (*plainHealth)(&h),
		LastSuccessAt: toUnix(h.LastSuccessAt), FailingSince: toUnix(h.FailingSince)})
}
