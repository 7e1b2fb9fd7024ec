package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// Page sizes.
const (
	endpointsPerPage  = 50
	deliveriesPerPage = 20
)

// merchant is the current session's merchant id: every read and action
// below is scoped to it.
func merchant(r *http.Request) string { return sessionFrom(r.Context()).MerchantID }

// pathID returns the {id} URL parameter when it has the expected prefix;
// anything else cannot exist and is answered 404 without a query.
func (p *Portal) pathID(w http.ResponseWriter, r *http.Request, prefix string) (string, bool) {
	v := chi.URLParam(r, "id")
	if !id.HasPrefix(v, prefix) {
		p.notFound(w, r)
		return "", false
	}
	return v, true
}

// pathEndpoint returns the session merchant's endpoint named by the {id}
// URL parameter; when there is none, it has answered the request.
func (p *Portal) pathEndpoint(w http.ResponseWriter, r *http.Request) (*delivery.Endpoint, bool) {
	endpointID, ok := p.pathID(w, r, "we")
	if !ok {
		return nil, false
	}
	e, err := p.cfg.Endpoints.FindEndpoint(r.Context(), merchant(r), endpointID)
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	return e, true
}

// afterCursor returns the page cursor of the "after" query parameter, an id
// with the listed objects' prefix; anything else reads the first page.
func afterCursor(r *http.Request, prefix string) string {
	after := r.URL.Query().Get("after")
	if !id.HasPrefix(after, prefix) {
		return ""
	}
	return after
}

// fail renders err: unknown (or another merchant's) objects as 404, a
// disabled endpoint as 409, anything else as a logged 500.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, delivery.ErrNotFound):
		p.notFound(w, r)
	case errors.Is(err, delivery.ErrEndpointDisabled):
		p.message(w, r, http.StatusConflict, "The endpoint is disabled",
			"Nothing was sent. Re-enable the endpoint first: its page offers to send what it missed while disabled.")
	default:
		p.serverError(w, r, err)
	}
}

type endpointsView struct {
	Endpoints []*delivery.Endpoint
	// Next is the cursor of the next page, if any.
	Next string
}

func (p *Portal) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	list, more, err := p.cfg.Endpoints.ListEndpoints(r.Context(), merchant(r), endpointsPerPage, afterCursor(r, "we"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := endpointsView{Endpoints: list}
	if more {
		v.Next = list[len(list)-1].ID
	}
	p.page(w, r, http.StatusOK, "endpoints", "Webhook endpoints", v)
}

type endpointView struct {
	Endpoint   *delivery.Endpoint
	Deliveries []*delivery.Delivery
	Next       string
	// Missed counts the skipped deliveries, the events that arrived while
	// the endpoint was disabled, up to missedCap; MoreMissed says there
	// are more.
	Missed     int
	MoreMissed bool
}

// missedCap is how many missed events the endpoint page counts exactly.
const missedCap = 100

func (p *Portal) handleEndpoint(w http.ResponseWriter, r *http.Request) {
	e, ok := p.pathEndpoint(w, r)
	if !ok {
		return
	}
	ctx, m := r.Context(), merchant(r)
	list, more, err := p.cfg.Deliveries.ListDeliveries(ctx, m, delivery.DeliveryFilter{EndpointID: e.ID}, deliveriesPerPage,
		afterCursor(r, "dlv"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	// Counted from the list (a bulk redrive's dry run counts only enabled
	// endpoints'), up to a page: "100+" beyond.
	missed, moreMissed, err := p.cfg.Deliveries.ListDeliveries(ctx, m, delivery.DeliveryFilter{EndpointID: e.ID, Status: delivery.StatusSkipped},
		missedCap, "")
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := endpointView{Endpoint: e, Deliveries: list, Missed: len(missed), MoreMissed: moreMissed}
	if more {
		v.Next = list[len(list)-1].ID
	}
	p.page(w, r, http.StatusOK, "endpoint", "Endpoint "+e.URL, v)
}

type deliveryView struct {
	Delivery *delivery.Delivery
	// Event is the payload, pretty-printed; empty when it cannot be read.
	Event string
}

func (p *Portal) handleDelivery(w http.ResponseWriter, r *http.Request) {
	deliveryID, ok := p.pathID(w, r, "dlv")
	if !ok {
		return
	}
	d, err := p.cfg.Deliveries.FindDelivery(r.Context(), merchant(r), deliveryID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := deliveryView{Delivery: d}
	if p.cfg.Events != nil {
		ev, err := p.cfg.Events.FindEvent(r.Context(), merchant(r), d.EventID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		v.Event = prettyEvent(ev)
	}
	p.page(w, r, http.StatusOK, "delivery", "Delivery "+d.ID, v)
}

// redirect answers a form with 303 to path, with a notice to show there.
func redirect(w http.ResponseWriter, r *http.Request, path, notice string) {
	http.Redirect(w, r, path+"?"+url.Values{"notice": {notice}}.Encode(), http.StatusSeeOther)
}

func (p *Portal) handleTest(w http.ResponseWriter, r *http.Request) {
	endpointID, ok := p.pathID(w, r, "we")
	if !ok {
		return
	}
	if _, err := p.cfg.Endpoints.SendTestEvent(r.Context(), merchant(r), endpointID); err != nil {
		p.fail(w, r, err)
		return
	}
	redirect(w, r, "/portal/endpoints/"+endpointID, "test_sent")
}

type secretView struct {
	Endpoint *delivery.Endpoint
	Overlap  string
}

// handleRollSecret shows the new secret on the answer itself, once: it is
// never shown again, and the page is not cached.
func (p *Portal) handleRollSecret(w http.ResponseWriter, r *http.Request) {
	endpointID, ok := p.pathID(w, r, "we")
	if !ok {
		return
	}
	e, err := p.cfg.Endpoints.RollSecret(r.Context(), merchant(r), endpointID, delivery.DefaultSecretOverlap)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.page(w, r, http.StatusOK, "secret", "New signing secret", secretView{Endpoint: e, Overlap: "24 hours"})
}

// handleSendMissed redrives the endpoint's skipped deliveries, re-enabling
// it first if it is disabled: "re-enable and send what it missed".
func (p *Portal) handleSendMissed(w http.ResponseWriter, r *http.Request) {
	e, ok := p.pathEndpoint(w, r)
	if !ok {
		return
	}
	ctx, m := r.Context(), merchant(r)
	if e.Status == delivery.EndpointDisabled {
		enabled := string(delivery.EndpointEnabled)
		if _, err := p.cfg.Endpoints.UpdateEndpoint(ctx, m, e.ID, delivery.EndpointParams{Status: &enabled}); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	if _, err := p.cfg.Deliveries.CreateRedrive(ctx, m, delivery.RedriveParams{EndpointID: e.ID, Status: delivery.StatusSkipped}); err != nil {
		p.fail(w, r, err)
		return
	}
	redirect(w, r, "/portal/endpoints/"+e.ID, "missed_sent")
}

func (p *Portal) handleRedrive(w http.ResponseWriter, r *http.Request) {
	deliveryID, ok := p.pathID(w, r, "dlv")
	if !ok {
		return
	}
	if _, err := p.cfg.Deliveries.RedriveDelivery(r.Context(), merchant(r), deliveryID); err != nil {
		p.fail(w, r, err)
		return
	}
	redirect(w, r, "/portal/deliveries/"+deliveryID, "redriven")
}

// prettyEvent indents the event's JSON for reading.
func prettyEvent(ev *webhook.Event) string {
	raw, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return ""
	}
	return string(raw)
}
