package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Event types Herald emits. Receivers switch on Event.Type.
const (
	// TypeCheckoutSessionCompleted fires once a checkout session is paid. It is
	// the authoritative fulfilment signal.
	TypeCheckoutSessionCompleted = "checkout.session.completed"
	// TypeCheckoutSessionExpired fires when an open session passes expires_at
	// or is expired through the API.
	TypeCheckoutSessionExpired = "checkout.session.expired"
	// TypeChargeSucceeded fires for every successful charge attempt.
	TypeChargeSucceeded = "charge.succeeded"
	// TypeChargeFailed fires for every declined or blocked charge attempt.
	TypeChargeFailed = "charge.failed"

	// Operational events tell a merchant about its own webhook setup. They
	// go to the merchant's other endpoints that subscribe to them (by name
	// or "*"), never to the endpoint they are about, and are never raised
	// about each other.

	// TypeWebhookEndpointDisabled fires when an endpoint stops receiving
	// events: it answered 410 Gone, failed for days without a success, or
	// was disabled through the API. Data.Object is the endpoint, with its
	// disabled_reason.
	TypeWebhookEndpointDisabled = "webhook_endpoint.disabled"
	// TypeDeliveryFailed fires when a delivery's last attempt has failed.
	// Data.Object is the delivery; it can be sent again with a redrive.
	TypeDeliveryFailed = "delivery.failed"

	// TypeTestPing is sent only by an endpoint's test call (POST
	// /v1/webhook_endpoints/{id}/test), to that endpoint alone. No endpoint
	// subscribes to it, "*" included, and its failure raises no
	// operational event. Data.Object is the endpoint.
	TypeTestPing = "test.ping"
)

// EventTypes lists every type above, in a stable order.
var EventTypes = []string{
	TypeCheckoutSessionCompleted,
	TypeCheckoutSessionExpired,
	TypeChargeSucceeded,
	TypeChargeFailed,
	TypeWebhookEndpointDisabled,
	TypeDeliveryFailed,
	TypeTestPing,
}

// Subscribable reports whether an endpoint may list typ in its enabled
// events: every type but test.ping, which only the test call sends.
func Subscribable(typ string) bool {
	return typ != TypeTestPing && slices.Contains(EventTypes, typ)
}

// IsOperational reports whether typ is an operational event type: one
// that reports on webhook delivery itself rather than on payments.
func IsOperational(typ string) bool {
	return typ == TypeWebhookEndpointDisabled || typ == TypeDeliveryFailed
}

// Event is the JSON envelope of every webhook body:
//
//	{"id":"evt_…","object":"event","type":"checkout.session.completed","created":1700000000,"data":{"object":{…}}}
//
// ID doubles as the webhook-id header; it stays the same across retries and
// redrives, so receivers deduplicate on it.
type Event struct {
	ID      string    `json:"id"`
	Object  string    `json:"object"`
	Type    string    `json:"type"`
	Created int64     `json:"created"`
	Data    EventData `json:"data"`
}

// EventData carries the object the event is about (a checkout session or a
// charge) exactly as the merchant API would return it at Created.
type EventData struct {
	Object json.RawMessage `json:"object"`
}

// NewEvent builds an envelope for obj, which is marshalled to JSON.
func NewEvent(id, typ string, created int64, obj any) (Event, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: id, Object: "event", Type: typ, Created: created, Data: EventData{Object: raw}}, nil
}

// ErrUnexpectedObject is returned by Event's decode methods when the event
// carries another kind of object than the one asked for: a charge asked
// for as a checkout session, say.
var ErrUnexpectedObject = errors.New("webhook: event carries another kind of object")

// Session decodes the checkout session of a checkout.session.completed or
// checkout.session.expired event. Errors wrap ErrUnexpectedObject when the
// event carries something else, or the JSON decoding error.
func (e Event) Session() (*CheckoutSession, error) {
	return decodeKind[CheckoutSession](e, "checkout.session", func(s *CheckoutSession) string { return s.Object })
}

// Charge decodes the charge of a charge.succeeded or charge.failed event.
// Errors wrap ErrUnexpectedObject when the event carries something else, or
// the JSON decoding error.
func (e Event) Charge() (*Charge, error) {
	return decodeKind[Charge](e, "charge", func(c *Charge) string { return c.Object })
}

// Endpoint decodes the endpoint of a webhook_endpoint.disabled event.
// Errors wrap ErrUnexpectedObject when the event carries something else, or
// the JSON decoding error.
func (e Event) Endpoint() (*WebhookEndpoint, error) {
	return decodeKind[WebhookEndpoint](e, "webhook_endpoint", func(w *WebhookEndpoint) string { return w.Object })
}

// Delivery decodes the delivery of a delivery.failed event. Errors wrap
// ErrUnexpectedObject when the event carries something else, or the JSON
// decoding error.
func (e Event) Delivery() (*Delivery, error) {
	return decodeKind[Delivery](e, "delivery", func(d *Delivery) string { return d.Object })
}

// Ping decodes the object of a test.ping event: the endpoint tested,
// without its secret. Errors wrap ErrUnexpectedObject for an event of
// another type, or the JSON decoding error.
func (e Event) Ping() (*WebhookEndpoint, error) {
	if e.Type != TypeTestPing {
		return nil, fmt.Errorf("%w: %s %s is not a %s", ErrUnexpectedObject, e.Type, e.ID, TypeTestPing)
	}
	return e.Endpoint()
}

// DecodeObject decodes e's Data.Object into a new T, for objects this
// package has no method for. It checks nothing beyond the JSON: prefer the
// typed methods (Session, Charge, …), which also check the object's kind.
func DecodeObject[T any](e Event) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(e.Data.Object, v); err != nil {
		return nil, fmt.Errorf("webhook: decode the object of %s %s: %w", e.Type, e.ID, err)
	}
	return v, nil
}

// decodeKind decodes e's object as a T and checks that the API called it
// kind (its "object" field), so that a handler registered for the wrong
// event type fails loudly instead of seeing a half-empty value. The object
// field rather than the event type is checked so that event types added
// later about the same kind of object decode too.
func decodeKind[T any](e Event, kind string, objectOf func(*T) string) (*T, error) {
	v, err := DecodeObject[T](e)
	if err != nil {
		return nil, err
	}
	if got := objectOf(v); got != kind {
		return nil, fmt.Errorf("%w: %s %s carries %q, not %q", ErrUnexpectedObject, e.Type, e.ID, got, kind)
	}
	return v, nil
}
