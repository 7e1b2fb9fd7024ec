package delivery

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/heraldpay/herald/internal/validation"
)

// Status is where a delivery (one event to one endpoint) is.
type Status string

// Delivery statuses.
const (
	// StatusPending: attempts are still to come (or held by a paused
	// endpoint).
	StatusPending Status = "pending"
	// StatusSucceeded: the endpoint answered 2xx.
	StatusSucceeded Status = "succeeded"
	// StatusFailed: every attempt failed; a redrive can try again.
	StatusFailed Status = "failed"
	// StatusCanceled: the endpoint was disabled or deleted before success.
	StatusCanceled Status = "canceled"
	// StatusSkipped: the event arrived while the endpoint was disabled. No
	// attempt was made; a redrive sends it once the endpoint is enabled.
	StatusSkipped Status = "skipped"
)

// Statuses lists every delivery status, in the order lists show them.
var Statuses = []Status{StatusPending, StatusSucceeded, StatusFailed, StatusCanceled, StatusSkipped}

// HoldReason says why a pending delivery is not being attempted now.
type HoldReason string

// Hold reasons.
const (
	// HoldNone: the delivery goes at NextAttemptAt (now, if unset).
	HoldNone HoldReason = ""
	// HoldEndpointPaused: the endpoint is paused; the delivery goes once it
	// is resumed, with no attempt spent meanwhile.
	HoldEndpointPaused HoldReason = "endpoint_paused"
	// HoldBreakerOpen: the endpoint looks down and its circuit breaker is
	// open; the delivery goes with or after the breaker's next probe, with
	// no attempt spent meanwhile.
	HoldBreakerOpen HoldReason = "breaker_open"
)

// EndpointState is what of an endpoint's state decides when its pending
// deliveries go.
type EndpointState struct {
	Paused       bool
	BreakerState BreakerState
	// NextProbe is when an open breaker lets a probe through.
	NextProbe *time.Time
}

// ExplainWait sets d.HeldReason, d.Held and d.NextAttemptAt of a pending
// delivery from its endpoint's state, so that a delivery waiting on a
// paused endpoint or an open breaker says why and until when, instead of
// showing a time already past (or none at all). Other deliveries are left
// as they are.
func (d *Delivery) ExplainWait(e EndpointState) {
	if d.Status != StatusPending {
		return
	}
	switch {
	case d.Held || e.Paused:
		d.Held, d.HeldReason, d.NextAttemptAt = true, HoldEndpointPaused, nil
	case e.BreakerState != BreakerClosed && e.BreakerState != "":
		d.Held, d.HeldReason = true, HoldBreakerOpen
		if e.NextProbe != nil && (d.NextAttemptAt == nil || d.NextAttemptAt.Before(*e.NextProbe)) {
			probe := *e.NextProbe
			d.NextAttemptAt = &probe
		}
	}
	if d.HeldReason != HoldEndpointPaused && d.NextAttemptAt == nil {
		// Never attempted yet (or a half-open breaker whose probe is under
		// way): it is due from the moment it was created.
		created := d.Created
		d.NextAttemptAt = &created
	}
}

// Attempt triggers.
const (
	TriggerInitial = "initial"
	TriggerRetry   = "retry"
	TriggerRedrive = "redrive"
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         string
	MerchantID string
	EventID    string
	EventType  string
	EndpointID string
	Status     Status
	// Held is set while a pending delivery waits for something other than
	// its scheduled time; HeldReason says what.
	Held           bool
	HeldReason     HoldReason
	Attempts       int
	NextAttemptAt  *time.Time
	LastAttemptAt  *time.Time
	LastStatusCode int
	LastErrorClass ErrorClass
	Created        time.Time
	CompletedAt    *time.Time
	// AttemptLog is filled when one delivery is retrieved.
	AttemptLog []Attempt
	// Orphaned is set, when one delivery is retrieved, for a pending
	// delivery that has lost its job: the sweeper or a redrive puts it
	// back on its way.
	Orphaned bool
}

// Attempt is one POST of a delivery, as recorded.
type Attempt struct {
	ID              string
	Number          int
	Trigger         string
	StartedAt       time.Time
	Duration        time.Duration
	RequestHeaders  map[string]string
	ResponseStatus  int
	ResponseHeaders map[string]string
	ResponseBody    []byte
	ErrorClass      ErrorClass
	ErrorMessage    string
}

// MarshalJSON renders the API object.
func (d *Delivery) MarshalJSON() ([]byte, error) {
	type attemptJSON struct {
		ID              string            `json:"id"`
		Object          string            `json:"object"`
		Number          int               `json:"number"`
		Trigger         string            `json:"trigger"`
		Created         int64             `json:"created"`
		DurationMS      float64           `json:"duration_ms"`
		RequestHeaders  map[string]string `json:"request_headers"`
		ResponseStatus  *int              `json:"response_status"`
		ResponseHeaders map[string]string `json:"response_headers"`
		ResponseBody    string            `json:"response_body"`
		ErrorClass      *string           `json:"error_class"`
		ErrorMessage    *string           `json:"error_message"`
	}
	var attempts []attemptJSON
	if d.AttemptLog != nil {
		attempts = make([]attemptJSON, 0, len(d.AttemptLog))
		for _, a := range d.AttemptLog {
			attempts = append(attempts, attemptJSON{
				ID: a.ID, Object: "delivery_attempt", Number: a.Number, Trigger: a.Trigger, Created: a.StartedAt.Unix(),
				DurationMS: float64(a.Duration.Microseconds()) / 1000, RequestHeaders: a.RequestHeaders,
				ResponseStatus: intOrNil(a.ResponseStatus), ResponseHeaders: a.ResponseHeaders,
				ResponseBody: strings.ToValidUTF8(string(a.ResponseBody), "\uFFFD"),
				ErrorClass:   strOrNil(string(a.ErrorClass)), ErrorMessage: strOrNil(a.ErrorMessage),
			})
		}
	}
	return json.Marshal(struct {
		ID             string        `json:"id"`
		Object         string        `json:"object"`
		Event          string        `json:"event"`
		EventType      string        `json:"event_type"`
		Endpoint       string        `json:"endpoint"`
		Status         Status        `json:"status"`
		Held           bool          `json:"held"`
		HeldReason     *string       `json:"held_reason"`
		AttemptCount   int           `json:"attempt_count"`
		NextAttemptAt  *int64        `json:"next_attempt_at"`
		LastAttemptAt  *int64        `json:"last_attempt_at"`
		LastStatusCode *int          `json:"last_status_code"`
		LastErrorClass *string       `json:"last_error_class"`
		Created        int64         `json:"created"`
		CompletedAt    *int64        `json:"completed_at"`
		Attempts       []attemptJSON `json:"attempts,omitempty"`
	}{
		ID: d.ID, Object: "delivery", Event: d.EventID, EventType: d.EventType, Endpoint: d.EndpointID,
		Status: d.Status, Held: d.Held, HeldReason: strOrNil(string(d.HeldReason)), AttemptCount: d.Attempts, NextAttemptAt: unixPtr(d.NextAttemptAt),
		LastAttemptAt: unixPtr(d.LastAttemptAt), LastStatusCode: intOrNil(d.LastStatusCode),
		LastErrorClass: strOrNil(string(d.LastErrorClass)), Created: d.Created.Unix(),
		CompletedAt: unixPtr(d.CompletedAt), Attempts: attempts,
	})
}

func intOrNil(v int) *int {
	if v == 0 {
		return nil
	}
	return &v
}

func strOrNil(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// DeliveryFilter narrows a deliveries list.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	Status     Status
}

// RedriveStatus is where a bulk redrive is.
type RedriveStatus string

// Redrive statuses.
const (
	RedriveQueued    RedriveStatus = "queued"
	RedriveRunning   RedriveStatus = "running"
	RedriveCompleted RedriveStatus = "completed"
	RedriveCanceled  RedriveStatus = "canceled"
)

// RedriveParams selects the deliveries a bulk redrive sends again.
type RedriveParams struct {
	EndpointID string `json:"endpoint_id"`
	// Status defaults to "failed"; "skipped" sends what a disabled endpoint
	// missed.
	Status    Status `json:"status"`
	EventType string `json:"event_type"`
	// Since and Until bound the deliveries' creation (Unix seconds).
	Since  *int64 `json:"since"`
	Until  *int64 `json:"until"`
	DryRun bool   `json:"dry_run"`
}

// Validate checks p and fills defaults. Errors: *validation.Error.
func (p *RedriveParams) Validate() error {
	if p.Status == "" {
		p.Status = StatusFailed
	}
	switch p.Status {
	case StatusFailed, StatusSucceeded, StatusCanceled, StatusSkipped:
	default:
		return &validation.Error{Param: "status", Code: validation.CodeInvalid,
			Message: `must be "failed", "succeeded", "canceled" or "skipped": pending deliveries are already on their way`}
	}
	if p.Since != nil && p.Until != nil && *p.Until < *p.Since {
		return &validation.Error{Param: "until", Code: validation.CodeInvalid, Message: "must not be before since"}
	}
	return nil
}

// Redrive is a durable bulk redrive and its progress.
type Redrive struct {
	ID         string
	MerchantID string
	Filter     RedriveParams
	Status     RedriveStatus
	Matched    int
	Enqueued   int
	Created    time.Time
	Completed  *time.Time
}

// MarshalJSON renders the API object.
func (r *Redrive) MarshalJSON() ([]byte, error) {
	// A dry run is an answer, not a redrive: it has no id and no status.
	var id *string
	var status *RedriveStatus
	if r.ID != "" {
		id, status = &r.ID, &r.Status
	}
	return json.Marshal(struct {
		ID        *string        `json:"id"`
		Object    string         `json:"object"`
		Status    *RedriveStatus `json:"status"`
		DryRun    bool           `json:"dry_run"`
		Filter    RedriveParams  `json:"filter"`
		Matched   int            `json:"matched"`
		Enqueued  int            `json:"enqueued"`
		Created   int64          `json:"created"`
		Completed *int64         `json:"completed_at"`
	}{id, "redrive", status, r.Filter.DryRun, r.Filter, r.Matched, r.Enqueued, r.Created.Unix(), unixPtr(r.Completed)})
}
