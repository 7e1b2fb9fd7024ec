package dashboard

import (
	"context"
	"fmt"
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
	{string(StateAttention), "Needing attention"},
	{string(StateEnabled), "Enabled"},
	{string(StatePaused), "Paused"},
	{string(StateDisabled), "Disabled"},
	{string(StateBreakerOpen), "Breaker open"},
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
	f := EndpointFilter{MerchantID: q.Get("merchant"), State: EndpointState(q.Get("state"))}
	if (f.MerchantID != "" && !id.HasPrefix(f.MerchantID, "acct")) ||
		!slices.ContainsFunc(endpointStates, func(s [2]string) bool { return s[0] == string(f.State) }) {
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
		filter.Set("state", string(f.State))
	}
	v := endpointsView{Merchant: f.MerchantID, State: string(f.State), Merchants: merchants, States: endpointStates, Rows: rows,
		ReturnTo: r.URL.RequestURI()}
	p := newPager(rows, more, req, func(row EndpointRow) Cursor { return Cursor{At: row.Created, ID: row.ID} })
	v.NewerURL, v.OlderURL, v.FirstURL = pagerURLs("/dashboard/endpoints", filter, p)
	d.page(w, r, http.StatusOK, "endpoints", navEndpoints, "Endpoints", v)
}

// endpointAction is what an endpoint button does.
type endpointAction struct {
	audit  string
	notice string
	// act does it for the endpoint of merchantID and returns the audit
	// log's one-line result.
	act func(ctx context.Context, d *Dashboard, merchantID, endpointID string) (string, error)
}

func endpointActionFor(name string) (endpointAction, bool) {
	yes, no, enabled := true, false, string(delivery.EndpointEnabled)
	switch name {
	case "pause":
		return endpointAction{ActionEndpointPause, "paused", update(delivery.EndpointParams{Paused: &yes})}, true
	case "resume":
		return endpointAction{ActionEndpointResume, "resumed", update(delivery.EndpointParams{Paused: &no})}, true
	case "enable":
		return endpointAction{ActionEndpointEnable, "enabled", update(delivery.EndpointParams{Status: &enabled})}, true
	case "enable_send":
		enable := update(delivery.EndpointParams{Status: &enabled})
		return endpointAction{ActionEndpointEnableAndSend, "enabled_sending",
			func(ctx context.Context, d *Dashboard, merchantID, endpointID string) (string, error) {
				state, err := enable(ctx, d, merchantID, endpointID)
				if err != nil {
					return "", err
				}
				sent, err := sendMissed(ctx, d, merchantID, endpointID)
				return state + "; " + sent, err
			}}, true
	case "send_missed":
		return endpointAction{ActionEndpointSendMissed, "sending", sendMissed}, true
	}
	return endpointAction{}, false
}

// update returns an action applying p to the endpoint.
func update(p delivery.EndpointParams) func(context.Context, *Dashboard, string, string) (string, error) {
	return func(ctx context.Context, d *Dashboard, merchantID, endpointID string) (string, error) {
		e, err := d.cfg.Endpoints.UpdateEndpoint(ctx, merchantID, endpointID, p)
		if err != nil {
			return "", err
		}
		state := string(e.Status)
		if e.Paused {
			state += ", paused"
		}
		return "now " + state, nil
	}
}

// sendMissed starts a durable bulk redrive of the endpoint's skipped
// deliveries: the events it missed while it was disabled.
func sendMissed(ctx context.Context, d *Dashboard, merchantID, endpointID string) (string, error) {
	rd, err := d.cfg.Deliveries.CreateRedrive(ctx, merchantID, delivery.RedriveParams{EndpointID: endpointID, Status: delivery.StatusSkipped})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("redrive %s sends %d skipped %s", rd.ID, rd.Matched, plural(rd.Matched, "delivery", "deliveries")), nil
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
			result, err := action.act(ctx, d, m.ID, endpointID)
			return "", result, err
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
