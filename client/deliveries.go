package client

import (
	"context"
	"iter"
	"net/url"

	"github.com/heraldpay/herald/webhook"
)

type (
	// Delivery is webhook.Delivery.
	Delivery = webhook.Delivery
	// DeliveryAttempt is webhook.DeliveryAttempt.
	DeliveryAttempt = webhook.DeliveryAttempt
)

const deliveriesPath = "/v1/deliveries"

// DeliveryListParams selects deliveries.
type DeliveryListParams struct {
	// Limit is the page size, 1–100. 0 leaves the server's default (10).
	Limit int
	// StartingAfter continues after (older than) the delivery with this ID.
	StartingAfter string
	// EndpointID keeps the deliveries to one endpoint.
	EndpointID string
	// EventID keeps the deliveries of one event.
	EventID string
	// Status keeps the deliveries in one status (webhook.DeliveryStatusFailed
	// …).
	Status string
}

func (p DeliveryListParams) query() url.Values {
	q := ListParams{Limit: p.Limit, StartingAfter: p.StartingAfter}.query()
	for k, v := range map[string]string{"endpoint_id": p.EndpointID, "event_id": p.EventID, "status": p.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// DeliveryService is the deliveries API: Client.Deliveries.
type DeliveryService struct{ c *Client }

// Get retrieves the delivery with the given ID, with every attempt.
func (s *DeliveryService) Get(ctx context.Context, id string) (*Delivery, error) {
	return get[Delivery](ctx, s.c, deliveriesPath, "delivery", id)
}

// List iterates over the deliveries params selects, newest first, without
// their attempts, fetching pages as it goes. An error ends the iteration.
func (s *DeliveryService) List(ctx context.Context, params DeliveryListParams) iter.Seq2[*Delivery, error] {
	return all(ctx, s.c, deliveriesPath, params.query(), func(d *Delivery) string { return d.ID })
}

// Page returns one page of the deliveries params selects, newest first.
func (s *DeliveryService) Page(ctx context.Context, params DeliveryListParams) (*List[Delivery], error) {
	return page[Delivery](ctx, s.c, deliveriesPath, params.query())
}

// Redrive delivers the event again now, with fresh attempts and the same
// webhook-id, and returns the delivery, pending again; one still on its way
// is left as it is. A delivery whose endpoint is disabled or deleted answers
// 409 (code "endpoint_disabled").
func (s *DeliveryService) Redrive(ctx context.Context, id string, opts ...RequestOption) (*Delivery, error) {
	return post[Delivery](ctx, s.c, deliveriesPath, "delivery", id, "redrive", nil, opts)
}
