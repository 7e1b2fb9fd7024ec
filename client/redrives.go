package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Redrive statuses, as in Redrive.Status.
const (
	RedriveStatusQueued    = "queued"
	RedriveStatusRunning   = "running"
	RedriveStatusCompleted = "completed"
	RedriveStatusCanceled  = "canceled"
)

const redrivesPath = "/v1/redrives"

// RedriveParams selects the deliveries a bulk redrive sends again. Zero
// fields select everything: Herald's default status is "failed".
type RedriveParams struct {
	// EndpointID keeps the deliveries to one endpoint.
	EndpointID string
	// Status is webhook.DeliveryStatusFailed (the default),
	// DeliveryStatusSkipped (what a disabled endpoint missed), Succeeded or
	// Canceled.
	Status string
	// EventType keeps the deliveries of one event type.
	EventType string
	// Since and Until bound the deliveries' creation (whole seconds; zero:
	// no bound).
	Since, Until time.Time
	// DryRun only counts the matches: the answer's Matched, no job.
	DryRun bool
}

// redriveFilterWire is RedriveParams and RedriveFilter on the wire.
type redriveFilterWire struct {
	EndpointID string `json:"endpoint_id,omitempty"`
	Status     string `json:"status,omitempty"`
	EventType  string `json:"event_type,omitempty"`
	Since      *int64 `json:"since,omitempty"`
	Until      *int64 `json:"until,omitempty"`
	DryRun     bool   `json:"dry_run,omitempty"`
}

// MarshalJSON encodes the request body, times in Unix seconds.
func (p RedriveParams) MarshalJSON() ([]byte, error) {
	return json.Marshal(redriveFilterWire{EndpointID: p.EndpointID, Status: p.Status, EventType: p.EventType,
		Since: unixOrNil(p.Since), Until: unixOrNil(p.Until), DryRun: p.DryRun})
}

// RedriveFilter is the selection a redrive runs on, as Herald completed it
// (Status "failed" when none was given).
type RedriveFilter struct {
	EndpointID string
	Status     string
	EventType  string
	// Since and Until are zero when unbounded.
	Since, Until time.Time
	DryRun       bool
}

// UnmarshalJSON decodes the API object.
func (f *RedriveFilter) UnmarshalJSON(data []byte) error {
	var w redriveFilterWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*f = RedriveFilter{EndpointID: w.EndpointID, Status: w.Status, EventType: w.EventType,
		Since: timeOrZero(w.Since), Until: timeOrZero(w.Until), DryRun: w.DryRun}
	return nil
}

// MarshalJSON encodes the API object, times in Unix seconds, zero as null.
func (f RedriveFilter) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		EndpointID string `json:"endpoint_id"`
		Status     string `json:"status"`
		EventType  string `json:"event_type"`
		Since      *int64 `json:"since"`
		Until      *int64 `json:"until"`
		DryRun     bool   `json:"dry_run"`
	}{f.EndpointID, f.Status, f.EventType, unixOrNil(f.Since), unixOrNil(f.Until), f.DryRun})
}

// Redrive is a bulk redrive and its progress. A dry run answers one
// without ID or Status: it only counts.
type Redrive struct {
	// ID is the redrive's id, rdr_…; "" for a dry run.
	ID string `json:"id"`
	// Object is always "redrive".
	Object string `json:"object"`
	// Status is one of the RedriveStatus constants; "" for a dry run.
	Status string `json:"status"`
	// DryRun is set on the answer to a dry run.
	DryRun bool `json:"dry_run"`
	// Filter is the selection.
	Filter RedriveFilter `json:"filter"`
	// Matched counts the deliveries selected, and Enqueued those sent again
	// so far.
	Matched  int `json:"matched"`
	Enqueued int `json:"enqueued"`
	// Created is when the redrive was asked for.
	Created time.Time `json:"created"`
	// CompletedAt is when it finished or was canceled; zero until then.
	CompletedAt time.Time `json:"completed_at"`
}

type plainRedrive Redrive

type redriveWire struct {
	*plainRedrive
	ID          *string `json:"id"`
	Status      *string `json:"status"`
	Created     *int64  `json:"created"`
	CompletedAt *int64  `json:"completed_at"`
}

// UnmarshalJSON decodes the API object: Unix-second times, nulls as zero
// values.
func (r *Redrive) UnmarshalJSON(data []byte) error {
	wire := redriveWire{plainRedrive: (*plainRedrive)(r)}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	r.ID, r.Status = stringOrEmpty(wire.ID), stringOrEmpty(wire.Status)
	r.Created, r.CompletedAt = timeOrZero(wire.Created), timeOrZero(wire.CompletedAt)
	return nil
}

// MarshalJSON encodes the API object: times in Unix seconds, zero values
// of nullable fields as null.
func (r Redrive) MarshalJSON() ([]byte, error) {
	return json.Marshal(redriveWire{plainRedrive: (*plainRedrive)(&r), ID: stringOrNil(r.ID), Status: stringOrNil(r.Status),
		Created: unixOrNil(r.Created), CompletedAt: unixOrNil(r.CompletedAt)})
}

// RedriveService is the bulk redrive API: Client.Redrives.
type RedriveService struct{ c *Client }

// Create counts the deliveries params selects and, unless params.DryRun,
// starts a durable job that sends each of them again once; follow it with
// Get. RedriveParams{Status: webhook.DeliveryStatusSkipped, EndpointID: …} sends
// what a disabled endpoint missed once it is enabled again.
func (s *RedriveService) Create(ctx context.Context, params RedriveParams, opts ...RequestOption) (*Redrive, error) {
	return send[Redrive](ctx, s.c, http.MethodPost, redrivesPath, nil, params, opts)
}

// Get retrieves a redrive and its progress.
func (s *RedriveService) Get(ctx context.Context, id string) (*Redrive, error) {
	return get[Redrive](ctx, s.c, redrivesPath, "redrive", id)
}

// Cancel stops a redrive between batches; deliveries already sent again
// stay so. A finished redrive answers 409 (code "redrive_finished").
func (s *RedriveService) Cancel(ctx context.Context, id string, opts ...RequestOption) (*Redrive, error) {
	return post[Redrive](ctx, s.c, redrivesPath, "redrive", id, "cancel", nil, opts)
}

func unixOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	secs := t.Unix()
	return &secs
}

func timeOrZero(secs *int64) time.Time {
	if secs == nil {
		return time.Time{}
	}
	return time.Unix(*secs, 0).UTC()
}

func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func stringOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
