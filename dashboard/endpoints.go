package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
)

// endpointStates are the endpoints list's state filter, value and label.
var endpointStates = [][2]string{
	{"", "All endpoints"},
	{StateAttention, "Needing attention"},
	{StateEnabled, "Enabled"},
	{StatePaused, "Paused"},
	{StateDisabled, "Disabled"},
	{StateBreakerOpen, "Breaker open"},
}

// endpointsView is the endpoints page's data.
type endpointsView struct {
	Merchant  string
	State     string
	Merchants []Merchant
	States    [][2]string
	Rows      []EndpointRow
	NewerURL  string
	OlderURL  string
	FirstURL  string
	// ReturnTo brings the actions' forms back to this very page.
	ReturnTo string
}

func (d *Dashboard) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := EndpointFilter{MerchantID: q.Get("merchant"), State: q.Get("state")}
	if (f.MerchantID != "" && !id.HasPrefix(f.MerchantID, "acct")) ||
		!slices.ContainsFunc(endpointStates, func(s [2]string) bool { return s[0] == f.State }) {
		d.message(w, r, http.StatusBadRequest, "Invalid filter", "This link's filter is not one the dashboard knows. Start again from the endpoints list.")
		return
	}
	req, err := pageRequest(q.Get("after"), q.Get("before"), "we")
	if err != nil {
		d.message(w, r, http.StatusBadRequest, "Invalid page link", "This page link is damaged. Start again from the endpoints list.")
		return
	}
	rows, more, err := d.cfg.Reads.ListEndpoints(r.Context(), f, req)
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	merchants, err := d.cfg.Reads.ListMerchants(r.Context(), merchantOptionsLimit)
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	filter := url.Values{}
	if f.MerchantID != "" {
		filter.Set("merchant", f.MerchantID)
	}
	if f.State != "" {
		filter.Set("state", f.State)
	}
	v := endpointsView{Merchant: f.MerchantID, State: f.State, Merchants: merchants, States: endpointStates, Rows: rows,
		ReturnTo: r.URL.RequestURI()}
	p := newPager(rows, more, req, func(row EndpointRow) Cursor { return Cursor{At: row.Created, ID: row.ID} })
	v.NewerURL, v.OlderURL, v.FirstURL = pagerURLs("/dashboard/endpoints", filter, p)
	d.page(w, r, http.StatusOK, "endpoints", navEndpoints, "Endpoints", v)
}

// endpointAction is what an endpoint button does.
type endpointAction struct {
	audit  string
	params func() delivery.EndpointParams
	notice string
}

func endpointActionFor(name string) (endpointAction, bool) {
	yes, no, enabled := true, false, string(delivery.EndpointEnabled)
	switch name {
	case "pause":
		return endpointAction{ActionEndpointPause, func() delivery.EndpointParams { return delivery.EndpointParams{Paused: &yes} }, "paused"}, true
	case "resume":
		return endpointAction{ActionEndpointResume, func() delivery.EndpointParams { return delivery.EndpointParams{Paused: &no} }, "resumed"}, true
	case "enable":
		return endpointAction{ActionEndpointEnable, func() delivery.EndpointParams { return delivery.EndpointParams{Status: &enabled} }, "enabled"}, true
	}
	return endpointAction{}, false
}

func (d *Dashboard) handleEndpointAction(w http.ResponseWriter, r *http.Request) {
	endpointID := chi.URLParam(r, "id")
	action, ok := endpointActionFor(chi.URLParam(r, "action"))
	if !ok || !id.HasPrefix(endpointID, "we") {
		d.notFound(w, r)
		return
	}
	m, err := d.cfg.Reads.EndpointMerchant(r.Context(), endpointID)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	err = d.audited(r, &AuditEntry{Action: action.audit, MerchantID: m.ID, Target: endpointID},
		func(ctx context.Context) (string, string, error) {
			e, err := d.cfg.Endpoints.UpdateEndpoint(ctx, m.ID, endpointID, action.params())
			if err != nil {
				return "", "", err
			}
			state := string(e.Status)
			if e.Paused {
				state += ", paused"
			}
			return "", "now " + state, nil
		})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, withNotice(safeNext(r.PostFormValue("return_to")), action.notice), http.StatusSeeOther)
}

// withNotice adds a notice code to a dashboard URL.
func withNotice(target, code string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "/dashboard/?notice=" + code
	}
	q := u.Query()
	q.Set("notice", code)
	u.RawQuery = q.Encode()
	return u.String()
}
