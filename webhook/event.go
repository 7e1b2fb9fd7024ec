package webhook

import (
	"encoding/json"
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
