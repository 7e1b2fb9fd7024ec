package delivery

import (
	"context"
	"time"

	"github.com/heraldpay/herald/webhook"
)

// EndpointService manages a merchant's webhook endpoints. Every method is
// scoped to one merchant: another merchant's id behaves as an unknown one.
type EndpointService interface {
	// CreateEndpoint stores a new endpoint with a fresh secret, returned in
	// Endpoint.Secret. Errors: *validation.Error.
	CreateEndpoint(ctx context.Context, merchantID string, p EndpointParams) (*Endpoint, error)
	// FindEndpoint errors: ErrNotFound.
	FindEndpoint(ctx context.Context, merchantID, endpointID string) (*Endpoint, error)
	// ListEndpoints returns up to limit endpoints, newest first, after
	// startingAfter. Errors: *validation.Error for an unknown cursor.
	ListEndpoints(ctx context.Context, merchantID string, limit int, startingAfter string) ([]*Endpoint, bool, error)
	// UpdateEndpoint applies the set fields. Resuming releases held
	// deliveries; re-enabling redrives nothing. Errors: ErrNotFound,
	// *validation.Error.
	UpdateEndpoint(ctx context.Context, merchantID, endpointID string, p EndpointParams) (*Endpoint, error)
	// DeleteEndpoint removes the endpoint and cancels its pending
	// deliveries. Errors: ErrNotFound.
	DeleteEndpoint(ctx context.Context, merchantID, endpointID string) error
	// RollSecret replaces the signing secret; the old one keeps signing
	// alongside for expirePreviousIn (0 ends it at once). Errors:
	// ErrNotFound, *validation.Error.
	RollSecret(ctx context.Context, merchantID, endpointID string, expirePreviousIn time.Duration) (*Endpoint, error)
	// SendTestEvent sends a signed test.ping event (data.object: the
	// endpoint) to this endpoint only, through the normal delivery path,
	// and returns its delivery. A paused endpoint holds it like any other.
	// Errors: ErrNotFound, ErrEndpointDisabled.
	SendTestEvent(ctx context.Context, merchantID, endpointID string) (*Delivery, error)
}

// EventService reads the event log.
type EventService interface {
	// FindEvent errors: ErrNotFound.
	FindEvent(ctx context.Context, merchantID, eventID string) (*webhook.Event, error)
	// ListEvents returns the events f selects, newest first, and whether
	// more follow in the direction of paging. Errors: *validation.Error
	// for an unknown cursor or an invalid filter.
	ListEvents(ctx context.Context, merchantID string, f EventFilter) ([]*webhook.Event, bool, error)
}

// DeliveryService reads deliveries and sends them again.
type DeliveryService interface {
	// FindDelivery returns a delivery with its attempt log. Errors: ErrNotFound.
	FindDelivery(ctx context.Context, merchantID, deliveryID string) (*Delivery, error)
	// ListDeliveries returns deliveries newest first. Errors:
	// *validation.Error for an unknown cursor.
	ListDeliveries(ctx context.Context, merchantID string, f DeliveryFilter, limit int, startingAfter string) ([]*Delivery, bool, error)
	// RedriveDelivery schedules the delivery again now, with a fresh set of
	// attempts and the same webhook-id. A delivery already on its way is
	// left as it is. Errors: ErrNotFound, ErrEndpointDisabled.
	RedriveDelivery(ctx context.Context, merchantID, deliveryID string) (*Delivery, error)
	// CreateRedrive counts the deliveries matching p and, unless p.DryRun,
	// starts a durable job that redrives each of them once. Errors:
	// *validation.Error.
	CreateRedrive(ctx context.Context, merchantID string, p RedriveParams) (*Redrive, error)
	// FindRedrive errors: ErrNotFound.
	FindRedrive(ctx context.Context, merchantID, redriveID string) (*Redrive, error)
	// CancelRedrive stops a redrive between batches. Errors: ErrNotFound,
	// ErrRedriveFinished.
	CancelRedrive(ctx context.Context, merchantID, redriveID string) (*Redrive, error)
}
