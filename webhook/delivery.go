package webhook

import (
	"encoding/json"
	"time"
)

// Delivery statuses, as in Delivery.Status.
const (
	// DeliveryStatusPending: attempts are still to come (or held).
	DeliveryStatusPending = "pending"
	// DeliveryStatusSucceeded: the endpoint answered 2xx.
	DeliveryStatusSucceeded = "succeeded"
	// DeliveryStatusFailed: every attempt failed; a redrive tries again.
	DeliveryStatusFailed = "failed"
	// DeliveryStatusCanceled: the endpoint was disabled or deleted first.
	DeliveryStatusCanceled = "canceled"
	// DeliveryStatusSkipped: the event came while the endpoint was
	// disabled; a redrive sends it once the endpoint is enabled again.
	DeliveryStatusSkipped = "skipped"
)

// Reasons a pending delivery is held, as in Delivery.HeldReason.
const (
	HeldEndpointPaused = "endpoint_paused"
	HeldBreakerOpen    = "breaker_open"
)

// Delivery is one event on its way to one endpoint, as the API returns it
// and as delivery.failed events carry it (without Attempts).
type Delivery struct {
	// ID is the delivery's id, dlv_….
	ID string `json:"id"`
	// Object is always "delivery".
	Object string `json:"object"`
	// EventID is the event delivered, evt_…: the webhook-id its attempts
	// carry.
	EventID string `json:"event"`
	// EventType is the event's type.
	EventType string `json:"event_type"`
	// EndpointID is the endpoint it goes to, we_….
	EndpointID string `json:"endpoint"`
	// Status is one of the DeliveryStatus constants.
	Status string `json:"status"`
	// Held is set while a pending delivery waits on its endpoint (paused,
	// or its breaker open) rather than on its schedule; HeldReason says
	// which, as one of the Held constants.
	Held       bool   `json:"held"`
	HeldReason string `json:"held_reason"`
	// AttemptCount is the number of attempts made so far.
	AttemptCount int `json:"attempt_count"`
	// NextAttemptAt is when a pending delivery goes next; zero when
	// finished, or held until its endpoint is resumed.
	NextAttemptAt time.Time `json:"next_attempt_at"`
	// LastAttemptAt is when the last attempt started; zero before the first.
	LastAttemptAt time.Time `json:"last_attempt_at"`
	// LastStatusCode is the HTTP status of the last answer; 0 when there
	// was none.
	LastStatusCode int `json:"last_status_code"`
	// LastErrorClass classifies the last failure ("http_status",
	// "timeout", "connection_refused", …); "" when there was none.
	LastErrorClass string `json:"last_error_class"`
	// Created is when the delivery was made, with its event.
	Created time.Time `json:"created"`
	// CompletedAt is when it succeeded, failed for good, or was canceled;
	// zero while pending.
	CompletedAt time.Time `json:"completed_at"`
	// Attempts are every attempt, oldest first, when the delivery was
	// retrieved on its own; nil in lists and in events.
	Attempts []DeliveryAttempt `json:"attempts,omitempty"`
}

type plainDelivery Delivery

type deliveryWire struct {
	*plainDelivery
	HeldReason     *string `json:"held_reason"`
	NextAttemptAt  *int64  `json:"next_attempt_at"`
	LastAttemptAt  *int64  `json:"last_attempt_at"`
	LastStatusCode *int    `json:"last_status_code"`
	LastErrorClass *string `json:"last_error_class"`
	Created        *int64  `json:"created"`
	CompletedAt    *int64  `json:"completed_at"`
}

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (d *Delivery) UnmarshalJSON(data []byte) error {
	wire := deliveryWire{plainDelivery: (*plainDelivery)(d)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	d.HeldReason, d.LastErrorClass = fromNullString(wire.HeldReason), fromNullString(wire.LastErrorClass)
	d.LastStatusCode = fromNullInt(wire.LastStatusCode)
	d.NextAttemptAt, d.LastAttemptAt = fromUnix(wire.NextAttemptAt), fromUnix(wire.LastAttemptAt)
	d.Created, d.CompletedAt = fromUnix(wire.Created), fromUnix(wire.CompletedAt)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero values
// of nullable fields as null.
func (d Delivery) MarshalJSON() ([]byte, error) {
	return json.Marshal(deliveryWire{
		plainDelivery: (*plainDelivery)(&d),
		HeldReason:    toNullString(d.HeldReason), LastErrorClass: toNullString(d.LastErrorClass),
		LastStatusCode: toNullInt(d.LastStatusCode),
		NextAttemptAt:  toUnix(d.NextAttemptAt), LastAttemptAt: toUnix(d.LastAttemptAt),
		Created: toUnix(d.Created), CompletedAt: toUnix(d.CompletedAt),
	})
}

// Attempt triggers, as in DeliveryAttempt.Trigger.
const (
	TriggerInitial = "initial"
	TriggerRetry   = "retry"
	TriggerRedrive = "redrive"
)

// DeliveryAttempt is one POST of a delivery, as recorded.
type DeliveryAttempt struct {
	// ID is the attempt's id, att_….
	ID string `json:"id"`
	// Object is always "delivery_attempt".
	Object string `json:"object"`
	// Number counts the delivery's attempts from 1.
	Number int `json:"number"`
	// Trigger is one of the Trigger constants.
	Trigger string `json:"trigger"`
	// Created is when the attempt started.
	Created time.Time `json:"created"`
	// DurationMS is how long it took, in milliseconds.
	DurationMS float64 `json:"duration_ms"`
	// RequestHeaders are the headers sent (the signature included).
	RequestHeaders map[string]string `json:"request_headers"`
	// ResponseStatus is the HTTP status answered; 0 when none came.
	ResponseStatus int `json:"response_status"`
	// ResponseHeaders and ResponseBody (its first 4 KiB) are the answer's.
	ResponseHeaders map[string]string `json:"response_headers"`
	ResponseBody    string            `json:"response_body"`
	// ErrorClass classifies a failure ("http_status", "timeout", …) and
	// ErrorMessage describes it; both "" for a success.
	ErrorClass   string `json:"error_class"`
	ErrorMessage string `json:"error_message"`
}

type plainAttempt DeliveryAttempt

type attemptWire struct {
	*plainAttempt
	Created        *int64  `json:"created"`
	ResponseStatus *int    `json:"response_status"`
	ErrorClass     *string `json:"error_class"`
	ErrorMessage   *string `json:"error_message"`
}

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (a *DeliveryAttempt) UnmarshalJSON(data []byte) error {
	wire := attemptWire{plainAttempt: (*plainAttempt)(a)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	a.Created, a.ResponseStatus = fromUnix(wire.Created), fromNullInt(wire.ResponseStatus)
	a.ErrorClass, a.ErrorMessage = fromNullString(wire.ErrorClass), fromNullString(wire.ErrorMessage)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero values
// of nullable fields as null.
func (a DeliveryAttempt) MarshalJSON() ([]byte, error) {
	return json.Marshal(attemptWire{plainAttempt: (*plainAttempt)(&a),
		Created: toUnix(a.Created), ResponseStatus: toNullInt(a.ResponseStatus),
		ErrorClass: toNullString(a.ErrorClass), ErrorMessage: toNullString(a.ErrorMessage)})
}
