package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
)

// redriveStatuses are the statuses a bulk redrive can select: finished
// deliveries only (pending ones are already on their way).
var redriveStatuses = []delivery.Status{delivery.StatusFailed, delivery.StatusSkipped, delivery.StatusSucceeded, delivery.StatusCanceled}

// recentRedrives is how many bulk redrives the form's page lists.
const recentRedrives = 20

// redrivesView is the bulk redrive page's data.
type redrivesView struct {
	Filter filterForm
	filterOptions
	// Preview is the dry run's answer, when one was asked for.
	Preview *delivery.Redrive
	Recent  []RedriveRow
}

// redriveForm reads a bulk redrive's filter; the status defaults to failed.
func redriveForm(q url.Values) filterForm {
	f := parseFilterForm(q, redriveStatuses)
	if f.Status == "" {
		f.Status = string(delivery.StatusFailed)
	}
	return f
}

// checkRedriveForm adds the errors only a bulk redrive has: it runs for one
// merchant, whose endpoint it must be.
func (d *Dashboard) checkRedriveForm(ctx context.Context, f *filterForm) error {
	if f.Merchant == "" {
		f.Errors["merchant"] = "Choose a merchant: a bulk redrive runs for one merchant at a time."
		return nil
	}
	if f.Endpoint == "" || f.Errors["endpoint"] != "" {
		return nil
	}
	m, err := d.cfg.Reads.EndpointMerchant(ctx, f.Endpoint)
	switch {
	case errors.Is(err, ErrNotFound):
		f.Errors["endpoint"] = "No such endpoint."
	case err != nil:
		return err
	case m.ID != f.Merchant:
		f.Errors["endpoint"] = "This endpoint belongs to another merchant."
	}
	return nil
}

// redriveParamErrors moves a service validation error onto its form field.
func redriveParamErrors(f *filterForm, err error) bool {
	var verr *validation.Error
	if !errors.As(err, &verr) {
		return false
	}
	field := map[string]string{"endpoint_id": "endpoint", "event_type": "event_type", "since": "since", "until": "until"}[verr.Param]
	if field == "" {
		field = "status"
	}
	f.Errors[field] = verr.Message
	return true
}

func (d *Dashboard) handleRedrives(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := redriveForm(q)
	var preview *delivery.Redrive
	if q.Get("preview") != "" {
		if err := d.checkRedriveForm(r.Context(), &f); err != nil {
			d.serverError(w, r, err)
			return
		}
		if len(f.Errors) == 0 {
			dry, err := d.cfg.Deliveries.CreateRedrive(r.Context(), f.Merchant, f.redriveParams(true))
			if err != nil && !redriveParamErrors(&f, err) {
				d.serverError(w, r, err)
				return
			}
			preview = dry
		}
	}
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	}
	d.renderRedrives(w, r, status, redrivesView{Filter: f, Preview: preview})
}

func (d *Dashboard) renderRedrives(w http.ResponseWriter, r *http.Request, status int, v redrivesView) {
	var err error
	if v.filterOptions, err = d.filterOptions(r.Context(), v.Filter, redriveStatuses); err != nil {
		d.serverError(w, r, err)
		return
	}
	v.MerchantRequired = true
	if v.Recent, err = d.cfg.Reads.ListRedrives(r.Context(), recentRedrives); err != nil {
		d.serverError(w, r, err)
		return
	}
	d.page(w, r, status, "redrives", navRedrives, "Bulk redrive", v)
}

func (d *Dashboard) handleRedriveCreate(w http.ResponseWriter, r *http.Request) {
	f := redriveForm(r.PostForm)
	if err := d.checkRedriveForm(r.Context(), &f); err != nil {
		d.serverError(w, r, err)
		return
	}
	if len(f.Errors) > 0 {
		d.renderRedrives(w, r, http.StatusBadRequest, redrivesView{Filter: f})
		return
	}
	var redriveID string
	err := d.audited(r, &AuditEntry{Action: ActionRedriveCreate, MerchantID: f.Merchant, Detail: f.detail()},
		func(ctx context.Context) (string, string, error) {
			rd, err := d.cfg.Deliveries.CreateRedrive(ctx, f.Merchant, f.redriveParams(false))
			if err != nil {
				return "", "", err
			}
			redriveID = rd.ID
			return rd.ID, fmt.Sprintf("started for %d %s", rd.Matched, plural(rd.Matched, "delivery", "deliveries")), nil
		})
	if err != nil {
		if redriveParamErrors(&f, err) {
			d.renderRedrives(w, r, http.StatusBadRequest, redrivesView{Filter: f})
			return
		}
		d.serverError(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/redrives/"+redriveID, http.StatusSeeOther)
}

// redriveView is a bulk redrive's progress page data.
type redriveView struct {
	Redrive  *delivery.Redrive
	Merchant Merchant
	// Live is true while the redrive may still enqueue deliveries.
	Live bool
	// Filter describes the selection, field by field.
	Filter [][2]string
	// DeliveriesURL lists the deliveries the filter selects.
	DeliveriesURL string
}

func describeRedriveFilter(p delivery.RedriveParams) [][2]string {
	out := [][2]string{{"Selected", string(p.Status) + " deliveries"}}
	if p.EndpointID != "" {
		out = append(out, [2]string{"Endpoint", p.EndpointID})
	}
	if p.EventType != "" {
		out = append(out, [2]string{"Event type", p.EventType})
	}
	if p.Since != nil {
		out = append(out, [2]string{"Created since", formatTime(time.Unix(*p.Since, 0))})
	}
	if p.Until != nil {
		out = append(out, [2]string{"Created before", formatTime(time.Unix(*p.Until, 0))})
	}
	return out
}

// redriveDeliveriesURL lists what a redrive selected (whatever their
// status now).
func redriveDeliveriesURL(merchantID string, p delivery.RedriveParams) string {
	f := filterForm{Merchant: merchantID, Endpoint: p.EndpointID, EventType: p.EventType}
	if p.Since != nil {
		f.Since = time.Unix(*p.Since, 0).UTC().Format(timeLayouts[0])
	}
	if p.Until != nil {
		f.Until = time.Unix(*p.Until, 0).UTC().Format(timeLayouts[0])
	}
	return withQuery("/dashboard/deliveries", f.Values())
}

// redriveMerchant reads the id of the redrive named in the URL and the
// merchant it belongs to. When it returns false it has already answered.
func (d *Dashboard) redriveMerchant(w http.ResponseWriter, r *http.Request) (string, Merchant, bool) {
	redriveID := chi.URLParam(r, "id")
	if !id.HasPrefix(redriveID, "rdr") {
		d.notFound(w, r)
		return "", Merchant{}, false
	}
	m, err := d.cfg.Reads.RedriveMerchant(r.Context(), redriveID)
	if err != nil {
		d.fail(w, r, err)
		return "", Merchant{}, false
	}
	return redriveID, m, true
}

func (d *Dashboard) handleRedrive(w http.ResponseWriter, r *http.Request) {
	redriveID, m, ok := d.redriveMerchant(w, r)
	if !ok {
		return
	}
	rd, err := d.cfg.Deliveries.FindRedrive(r.Context(), m.ID, redriveID)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	v := redriveView{Redrive: rd, Merchant: m, Filter: describeRedriveFilter(rd.Filter),
		Live:          rd.Status == delivery.RedriveQueued || rd.Status == delivery.RedriveRunning,
		DeliveriesURL: redriveDeliveriesURL(m.ID, rd.Filter)}
	var opts []func(*view)
	if v.Live {
		opts = append(opts, refreshEvery(2))
	}
	d.page(w, r, http.StatusOK, "redrive", navRedrives, "Redrive "+rd.ID, v, opts...)
}

func (d *Dashboard) handleRedriveCancel(w http.ResponseWriter, r *http.Request) {
	redriveID, m, ok := d.redriveMerchant(w, r)
	if !ok {
		return
	}
	notice := "canceled"
	err := d.audited(r, &AuditEntry{Action: ActionRedriveCancel, MerchantID: m.ID, Target: redriveID},
		func(ctx context.Context) (string, string, error) {
			rd, err := d.cfg.Deliveries.CancelRedrive(ctx, m.ID, redriveID)
			if err != nil {
				return "", "", err
			}
			return "", fmt.Sprintf("canceled after %d of %d", rd.Enqueued, rd.Matched), nil
		})
	switch {
	case errors.Is(err, delivery.ErrRedriveFinished):
		notice = "finished"
	case err != nil:
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/redrives/"+redriveID+"?notice="+notice, http.StatusSeeOther)
}
