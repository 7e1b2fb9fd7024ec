package dashboard

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// filterForm is the delivery filter of the deliveries list and of the bulk
// redrive form, as typed: it is shown back as it came, with an error per
// field that did not parse.
type filterForm struct {
	Merchant  string
	Endpoint  string
	Status    string
	EventType string
	// Since and Until are datetime-local values, read as UTC.
	Since  string
	Until  string
	Errors map[string]string

	since, until *time.Time
}

// timeLayouts are what datetime-local inputs send (seconds only with a
// step) and what a person types into a URL.
var timeLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// parseFilterForm reads the filter fields of q; statuses lists the
// statuses allowed ("" always is).
func parseFilterForm(q url.Values, statuses []delivery.Status) filterForm {
	f := filterForm{
		Merchant: strings.TrimSpace(q.Get("merchant")), Endpoint: strings.TrimSpace(q.Get("endpoint")),
		Status: q.Get("status"), EventType: q.Get("event_type"),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")),
		Errors: map[string]string{},
	}
	if f.Merchant != "" && !id.HasPrefix(f.Merchant, "acct") {
		f.Errors["merchant"] = "Not a merchant id (acct_…)."
	}
	if f.Endpoint != "" && !id.HasPrefix(f.Endpoint, "we") {
		f.Errors["endpoint"] = "Not an endpoint id (we_…)."
	}
	if f.Status != "" && !slices.Contains(statuses, delivery.Status(f.Status)) {
		f.Errors["status"] = "Unknown status."
	}
	if f.EventType != "" && !slices.Contains(webhook.EventTypes, f.EventType) {
		f.Errors["event_type"] = "Unknown event type."
	}
	f.since = f.parseTime("since", f.Since)
	f.until = f.parseTime("until", f.Until)
	if f.since != nil && f.until != nil && !f.until.After(*f.since) {
		f.Errors["until"] = "Must be after Since."
	}
	return f
}

func (f *filterForm) parseTime(field, v string) *time.Time {
	if v == "" {
		return nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return &t
		}
	}
	f.Errors[field] = "Use a date and time like 2026-01-31T14:05 (UTC)."
	return nil
}

// deliveryFilter is the parsed filter; call it only without errors.
func (f filterForm) deliveryFilter() DeliveryFilter {
	return DeliveryFilter{MerchantID: f.Merchant, EndpointID: f.Endpoint, Status: delivery.Status(f.Status),
		EventType: f.EventType, Since: f.since, Until: f.until}
}

// redriveParams is the filter as a bulk redrive's parameters.
func (f filterForm) redriveParams(dryRun bool) delivery.RedriveParams {
	p := delivery.RedriveParams{EndpointID: f.Endpoint, Status: delivery.Status(f.Status), EventType: f.EventType, DryRun: dryRun}
	if f.since != nil {
		v := f.since.Unix()
		p.Since = &v
	}
	if f.until != nil {
		v := f.until.Unix()
		p.Until = &v
	}
	return p
}

// Values is the filter as query parameters, empty fields left out.
func (f filterForm) Values() url.Values {
	v := url.Values{}
	for _, kv := range [][2]string{
		{"merchant", f.Merchant}, {"endpoint", f.Endpoint}, {"status", f.Status},
		{"event_type", f.EventType}, {"since", f.Since}, {"until", f.Until},
	} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	return v
}

// detail is the filter for the audit log, empty fields left out.
func (f filterForm) detail() map[string]string {
	d := map[string]string{}
	for k, v := range f.Values() {
		d[k] = v[0]
	}
	return d
}

// IsEmpty reports whether no field is set.
func (f filterForm) IsEmpty() bool { return len(f.Values()) == 0 }

// withQuery returns path with v as its query string.
func withQuery(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}
