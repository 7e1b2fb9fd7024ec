package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
	"github.com/heraldpay/herald/webhook"
)

// listStatuses are the statuses the deliveries list filters by.
var listStatuses = []delivery.Status{delivery.StatusFailed, delivery.StatusPending, delivery.StatusSucceeded,
	delivery.StatusCanceled, delivery.StatusSkipped}

// Limits of the filters' drop-downs.
const (
	merchantOptionsLimit = 500
	endpointOptionsLimit = 200
)

// filterOptions are the choices of a delivery filter's drop-downs.
type filterOptions struct {
	Merchants  []Merchant
	Endpoints  []EndpointOption
	Statuses   []string
	EventTypes []string
	// AnyStatus offers "any status"; MerchantRequired marks the merchant.
	AnyStatus        bool
	MerchantRequired bool
}

// filterOptions lists merchants, and endpoints (the merchant's when one is
// chosen), keeping a chosen endpoint that the list would leave out.
func (d *Dashboard) filterOptions(ctx context.Context, f filterForm, statuses []delivery.Status) (filterOptions, error) {
	o := filterOptions{EventTypes: webhook.EventTypes}
	for _, s := range statuses {
		o.Statuses = append(o.Statuses, string(s))
	}
	var err error
	if o.Merchants, err = d.cfg.Reads.ListMerchants(ctx, merchantOptionsLimit); err != nil {
		return o, err
	}
	if o.Endpoints, err = d.cfg.Reads.EndpointOptions(ctx, f.Merchant, endpointOptionsLimit); err != nil {
		return o, err
	}
	if f.Endpoint != "" && !slices.ContainsFunc(o.Endpoints, func(e EndpointOption) bool { return e.ID == f.Endpoint }) {
		o.Endpoints = append(o.Endpoints, EndpointOption{ID: f.Endpoint, URL: f.Endpoint})
	}
	return o, nil
}

// deliveriesView is the deliveries list's data.
type deliveriesView struct {
	Filter filterForm
	filterOptions
	Rows []DeliveryRow
	// NewerURL, OlderURL and FirstURL link the neighbouring pages ("" for
	// none).
	NewerURL string
	OlderURL string
	FirstURL string
}

func (d *Dashboard) handleDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := parseFilterForm(q, listStatuses)
	req, err := pageRequest(q.Get("after"), q.Get("before"), "dlv")
	if err != nil {
		d.message(w, r, http.StatusBadRequest, "Invalid page link", "This page link is damaged. Start again from the deliveries list.")
		return
	}
	v := deliveriesView{Filter: f}
	if v.filterOptions, err = d.filterOptions(r.Context(), f, listStatuses); err != nil {
		d.serverError(w, r, err)
		return
	}
	v.AnyStatus = true
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	} else {
		rows, more, err := d.cfg.Reads.ListDeliveries(r.Context(), f.deliveryFilter(), req)
		if err != nil {
			d.serverError(w, r, err)
			return
		}
		v.Rows = rows
		p := newPager(rows, more, req, func(row DeliveryRow) Cursor { return Cursor{At: row.Created, ID: row.ID} })
		v.NewerURL, v.OlderURL, v.FirstURL = pagerURLs("/dashboard/deliveries", f.Values(), p)
	}
	d.page(w, r, status, "deliveries", navDeliveries, "Deliveries", v)
}

// pagerURLs turns a pager into links that keep the filter.
func pagerURLs(path string, filter url.Values, p pager) (newer, older, first string) {
	link := func(key string, c *Cursor) string {
		if c == nil {
			return ""
		}
		v := url.Values{}
		for k, vs := range filter {
			v[k] = vs
		}
		v.Set(key, c.String())
		return withQuery(path, v)
	}
	newer, older = link("before", p.Newer), link("after", p.Older)
	if p.First {
		first = withQuery(path, filter)
	}
	return newer, older, first
}

// deliveryView is a delivery's page data.
type deliveryView struct {
	Delivery *delivery.Delivery
	Context  *DeliveryContext
	// Payload is the event, pretty-printed.
	Payload string
	// Attempts are newest first.
	Attempts []attemptView
	// RedriveBlocked says why the delivery cannot be redriven now ("" if
	// it can).
	RedriveBlocked string
}

// attemptView is one attempt, ready to read.
type attemptView struct {
	delivery.Attempt
	Succeeded       bool
	RequestHeaders  []header
	ResponseHeaders []header
	Body            string
	BodyTruncated   bool
	// Open expands the latest attempt.
	Open bool
}

type header struct{ Name, Value string }

func sortedHeaders(h map[string]string) []header {
	out := make([]header, 0, len(h))
	for k, v := range h {
		out = append(out, header{k, v})
	}
	slices.SortFunc(out, func(a, b header) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// prettyJSON indents a JSON document; anything else is shown as text, with
// invalid UTF-8 replaced.
func prettyJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Valid(b) && json.Indent(&buf, b, "", "  ") == nil {
		return buf.String()
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// loadDelivery reads the delivery named in the URL with its context, through
// its own merchant's scope. When it returns false it has already answered.
func (d *Dashboard) loadDelivery(w http.ResponseWriter, r *http.Request) (*DeliveryContext, *delivery.Delivery, bool) {
	deliveryID := chi.URLParam(r, "id")
	if !id.HasPrefix(deliveryID, "dlv") {
		d.notFound(w, r)
		return nil, nil, false
	}
	dc, err := d.cfg.Reads.DeliveryContext(r.Context(), deliveryID)
	if err != nil {
		d.fail(w, r, err)
		return nil, nil, false
	}
	dl, err := d.cfg.Deliveries.FindDelivery(r.Context(), dc.MerchantID, deliveryID)
	if err != nil {
		d.fail(w, r, err)
		return nil, nil, false
	}
	return dc, dl, true
}

func (d *Dashboard) handleDelivery(w http.ResponseWriter, r *http.Request) {
	dc, dl, ok := d.loadDelivery(w, r)
	if !ok {
		return
	}
	v := deliveryView{Delivery: dl, Context: dc, Payload: prettyJSON(dc.EventBody)}
	for i := len(dl.AttemptLog) - 1; i >= 0; i-- {
		a := dl.AttemptLog[i]
		v.Attempts = append(v.Attempts, attemptView{
			Attempt:         a,
			Succeeded:       a.ErrorClass == delivery.ClassNone && a.ResponseStatus >= 200 && a.ResponseStatus < 300,
			RequestHeaders:  sortedHeaders(a.RequestHeaders),
			ResponseHeaders: sortedHeaders(a.ResponseHeaders),
			Body:            prettyJSON(a.ResponseBody),
			BodyTruncated:   len(a.ResponseBody) >= delivery.MaxResponseBody,
			Open:            i == len(dl.AttemptLog)-1,
		})
	}
	switch {
	case dc.EndpointStatus != delivery.EndpointEnabled:
		v.RedriveBlocked = "Its endpoint is disabled: re-enable it on the Endpoints page first."
	case dl.Status == delivery.StatusPending && !dl.Orphaned:
		v.RedriveBlocked = "It is still on its way: a redrive would change nothing."
	}
	var opts []func(*view)
	if dl.Status == delivery.StatusPending && dl.HeldReason != delivery.HoldEndpointPaused {
		// Follow the delivery until it ends, without any script.
		opts = append(opts, refreshEvery(2))
	}
	d.page(w, r, http.StatusOK, "delivery", navDeliveries, "Delivery "+dl.ID, v, opts...)
}

func (d *Dashboard) handleDeliveryRedrive(w http.ResponseWriter, r *http.Request) {
	dc, prior, ok := d.loadDelivery(w, r)
	if !ok {
		return
	}
	deliveryID := prior.ID
	notice := "redriven"
	err := d.audited(r, &AuditEntry{Action: ActionDeliveryRedrive, MerchantID: dc.MerchantID, Target: deliveryID,
		Detail: map[string]string{"status_before": string(prior.Status)}}, func(ctx context.Context) (string, string, error) {
		if _, err := d.cfg.Deliveries.RedriveDelivery(ctx, dc.MerchantID, deliveryID); err != nil {
			return "", "", err
		}
		if prior.Status == delivery.StatusPending {
			notice = "still_pending"
			return "", "left alone: still on its way", nil
		}
		return "", "sent again with a fresh set of attempts", nil
	})
	switch {
	case errors.Is(err, delivery.ErrEndpointDisabled):
		notice = "endpoint_disabled"
	case err != nil:
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/deliveries/"+deliveryID+"?notice="+notice, http.StatusSeeOther)
}

// fail answers an error from a service or the read model.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr *validation.Error
	switch {
	case errors.Is(err, ErrNotFound):
		d.notFound(w, r)
	case errors.As(err, &verr):
		d.message(w, r, http.StatusBadRequest, "Not done", verr.Message)
	default:
		d.serverError(w, r, err)
	}
}
