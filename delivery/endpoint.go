package delivery

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldpay/herald/webhook"

	"github.com/heraldpay/herald/internal/validation"
)

// EndpointStatus says whether an endpoint receives events.
type EndpointStatus string

// Endpoint statuses.
const (
	EndpointEnabled  EndpointStatus = "enabled"
	EndpointDisabled EndpointStatus = "disabled"
)

// Limits of endpoint parameters.
const (
	MaxEndpointURLLen     = 2048
	MaxDescriptionLen     = 500
	DefaultSecretOverlap  = 24 * time.Hour
	MaxSecretOverlap      = 7 * 24 * time.Hour
	AllEvents             = "*"
	DisabledReasonGone    = "the endpoint answered 410 Gone"
	DisabledReasonManual  = "disabled through the API"
	disabledReasonFailing = "no successful delivery for %s (since %s)"
)

// DisableCause is why an endpoint was disabled, in a word fit for a metric
// label and a log line; the endpoint's disabled_reason says it in full.
type DisableCause string

// Disable causes.
const (
	CauseGone    DisableCause = "gone"    // it answered 410 Gone
	CauseFailing DisableCause = "failing" // no success for DisableAfter
	CauseManual  DisableCause = "manual"  // through the API
)

// DisabledReasonFailing explains an automatic disable after a long outage.
func DisabledReasonFailing(after time.Duration, since time.Time) string {
	return fmt.Sprintf(disabledReasonFailing, formatDays(after), since.UTC().Format(time.RFC3339))
}

func formatDays(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// Endpoint is a merchant's URL subscribed to some event types.
type Endpoint struct {
	ID             string
	MerchantID     string
	URL            string
	Description    string
	EnabledEvents  []string
	Status         EndpointStatus
	DisabledReason string
	Paused         bool
	Created        time.Time
	// Secret is the whsec_ signing secret. It is filled only in the answer
	// to a create or a roll: the API shows it then and never again.
	Secret string
	// Health, maintained by the worker.
	LastSuccessAt *time.Time
	FailingSince  *time.Time
	BreakerState  BreakerState
}

// MarshalJSON renders the API object.
func (e *Endpoint) MarshalJSON() ([]byte, error) {
	type health struct {
		BreakerState  BreakerState `json:"breaker_state"`
		LastSuccessAt *int64       `json:"last_success_at"`
		FailingSince  *int64       `json:"failing_since"`
	}
	var reason *string
	if e.DisabledReason != "" {
		reason = &e.DisabledReason
	}
	return json.Marshal(struct {
		ID             string         `json:"id"`
		Object         string         `json:"object"`
		URL            string         `json:"url"`
		Description    string         `json:"description"`
		EnabledEvents  []string       `json:"enabled_events"`
		Status         EndpointStatus `json:"status"`
		DisabledReason *string        `json:"disabled_reason"`
		Paused         bool           `json:"paused"`
		Secret         string         `json:"secret,omitempty"`
		Health         health         `json:"health"`
		Created        int64          `json:"created"`
	}{
		ID: e.ID, Object: "webhook_endpoint", URL: e.URL, Description: e.Description, EnabledEvents: e.EnabledEvents,
		Status: e.Status, DisabledReason: reason, Paused: e.Paused, Secret: e.Secret,
		Health:  health{BreakerState: e.BreakerState, LastSuccessAt: unixPtr(e.LastSuccessAt), FailingSince: unixPtr(e.FailingSince)},
		Created: e.Created.Unix(),
	})
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.Unix()
	return &v
}

// EndpointParams creates or updates an endpoint. Nil fields are left as
// they are on update; on create, URL and EnabledEvents are required.
type EndpointParams struct {
	URL           *string  `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   *string  `json:"description"`
	Paused        *bool    `json:"paused"`
	// Status "enabled" re-enables a disabled endpoint (nothing is redriven
	// unless asked); "disabled" disables it.
	Status *string `json:"status"`
}

// ValidateEndpoint checks p. create requires url and enabled_events;
// requireHTTPS refuses http URLs (production). Errors: *validation.Error.
func ValidateEndpoint(p EndpointParams, create, requireHTTPS bool) error {
	if p.URL != nil || create {
		if p.URL == nil || *p.URL == "" {
			return &validation.Error{Param: "url", Code: validation.CodeMissing, Message: "url is required"}
		}
		if err := validateEndpointURL(*p.URL, requireHTTPS); err != nil {
			return err
		}
	}
	if p.EnabledEvents != nil || create {
		if len(p.EnabledEvents) == 0 {
			return &validation.Error{Param: "enabled_events", Code: validation.CodeMissing,
				Message: `enabled_events is required: ["*"] or a list of event types`}
		}
		for i, typ := range p.EnabledEvents {
			if typ == webhook.TypeTestPing {
				return &validation.Error{Param: fmt.Sprintf("enabled_events[%d]", i), Code: validation.CodeInvalid,
					Message: "test.ping cannot be subscribed to: it is sent only by the endpoint's test call, to that endpoint"}
			}
			if typ != AllEvents && !webhook.Subscribable(typ) {
				return &validation.Error{Param: fmt.Sprintf("enabled_events[%d]", i), Code: validation.CodeInvalid,
					Message: fmt.Sprintf("unknown event type %q; use \"*\" or one of %s", typ, strings.Join(subscribable(), ", "))}
			}
		}
	}
	if p.Description != nil && validation.HasControl(*p.Description) {
		return validation.Control("description")
	}
	if p.Description != nil && (utf8.RuneCountInString(*p.Description) > MaxDescriptionLen || !utf8.ValidString(*p.Description)) {
		return &validation.Error{Param: "description", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)}
	}
	if p.Status != nil && *p.Status != string(EndpointEnabled) && *p.Status != string(EndpointDisabled) {
		return &validation.Error{Param: "status", Code: validation.CodeInvalid, Message: `must be "enabled" or "disabled"`}
	}
	return nil
}

func validateEndpointURL(raw string, requireHTTPS bool) error {
	if validation.HasControl(raw) {
		return validation.Control("url")
	}
	if len(raw) > MaxEndpointURLLen {
		return &validation.Error{Param: "url", Code: validation.CodeURLInvalid,
			Message: fmt.Sprintf("must be at most %d characters", MaxEndpointURLLen)}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Hostname() == "" || strings.ContainsAny(raw, " \t\r\n"):
		return &validation.Error{Param: "url", Code: validation.CodeURLInvalid, Message: "must be an absolute http or https URL"}
	case u.Scheme != "https" && u.Scheme != "http":
		return &validation.Error{Param: "url", Code: validation.CodeURLInvalid, Message: "the scheme must be http or https"}
	case requireHTTPS && u.Scheme != "https":
		return &validation.Error{Param: "url", Code: validation.CodeURLInvalid, Message: "must use https"}
	case u.User != nil:
		return &validation.Error{Param: "url", Code: validation.CodeURLInvalid,
			Message: "must not contain credentials; authenticate requests with the signature instead"}
	case u.Fragment != "":
		return &validation.Error{Param: "url", Code: validation.CodeURLInvalid, Message: "must not contain a fragment"}
	}
	return nil
}

// subscribable lists the event types an endpoint may enable.
func subscribable() []string {
	var out []string
	for _, typ := range webhook.EventTypes {
		if webhook.Subscribable(typ) {
			out = append(out, typ)
		}
	}
	return out
}

// NormalizeEvents sorts and deduplicates an enabled_events list; "*"
// swallows everything else.
func NormalizeEvents(events []string) []string {
	if slices.Contains(events, AllEvents) {
		return []string{AllEvents}
	}
	out := slices.Clone(events)
	slices.Sort(out)
	return slices.Compact(out)
}
