package client

import (
	"context"
	"iter"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldpay/herald/webhook"
)

// Event is webhook.Event: the envelope Herald signs and delivers, as the
// events API returns it. Its typed methods (Session, Charge, Endpoint,
// Delivery, Ping) decode its object.
type Event = webhook.Event

const eventsPath = "/v1/events"

// EventListParams selects events, for reconciling what your endpoints
// received with what Herald raised.
type EventListParams struct {
	// Limit is the page size, 1–100. 0 leaves the server's default (10).
	Limit int
	// StartingAfter continues after (older than) the event with this ID.
	StartingAfter string
	// EndingBefore continues before (newer than) the event with this ID:
	// an iterator then runs forward in time, oldest first. Set at most one
	// of StartingAfter and EndingBefore.
	EndingBefore string
	// Type keeps the events of one type (webhook.TypeChargeFailed …).
	Type string
	// CreatedGTE keeps events created at or after this time, and
	// CreatedLT those created before that one (whole seconds; zero: no
	// bound).
	CreatedGTE time.Time
	CreatedLT  time.Time
	// DeliverySuccess Bool(false) keeps the events with at least one
	// delivery that has not succeeded: what an outage may have cost you.
	DeliverySuccess *bool
}

func (p EventListParams) query() url.Values {
	q := ListParams{Limit: p.Limit, StartingAfter: p.StartingAfter}.query()
	if p.EndingBefore != "" {
		q.Set("ending_before", p.EndingBefore)
	}
	if p.Type != "" {
		q.Set("type", p.Type)
	}
	if !p.CreatedGTE.IsZero() {
		q.Set("created[gte]", strconv.FormatInt(p.CreatedGTE.Unix(), 10))
	}
	if !p.CreatedLT.IsZero() {
		q.Set("created[lt]", strconv.FormatInt(p.CreatedLT.Unix(), 10))
	}
	if p.DeliverySuccess != nil {
		q.Set("delivery_success", strconv.FormatBool(*p.DeliverySuccess))
	}
	return q
}

// EventService is the events API: Client.Events. Events are kept for
// Herald's retention period (30 days by default).
type EventService struct{ c *Client }

// Get retrieves the event with the given ID.
func (s *EventService) Get(ctx context.Context, id string) (*Event, error) {
	return get[Event](ctx, s.c, eventsPath, "event", id)
}

// List iterates over the events params selects, newest first (oldest first
// from EndingBefore), fetching pages as it goes. An error ends the
// iteration.
func (s *EventService) List(ctx context.Context, params EventListParams) iter.Seq2[*Event, error] {
	return all(ctx, s.c, eventsPath, params.query(), func(e *Event) string { return e.ID })
}

// Page returns one page of the events params selects, newest first.
func (s *EventService) Page(ctx context.Context, params EventListParams) (*List[Event], error) {
	return page[Event](ctx, s.c, eventsPath, params.query())
}
