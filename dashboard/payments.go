package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/id"
)

// paymentFilterForm is the payments list's filter as typed, shown back
// with an error per field that did not parse.
type paymentFilterForm struct {
	Merchant string
	Status   string
	Blocked  bool
	Errors   map[string]string
}

func parsePaymentFilter(q url.Values) paymentFilterForm {
	f := paymentFilterForm{Merchant: strings.TrimSpace(q.Get("merchant")), Status: q.Get("status"),
		Errors: map[string]string{}}
	if f.Merchant != "" && !id.HasPrefix(f.Merchant, "acct") {
		f.Errors["merchant"] = "Not a merchant id (acct_…)."
	}
	if f.Status != "" && !slices.Contains(checkout.ChargeStatuses, checkout.ChargeStatus(f.Status)) {
		f.Errors["status"] = "Unknown outcome."
	}
	switch q.Get("blocked") {
	case "":
	case "1":
		f.Blocked = true
	default:
		f.Errors["blocked"] = "Tick the box or leave it."
	}
	return f
}

// Values is the filter as query parameters, empty fields left out.
func (f paymentFilterForm) Values() url.Values {
	v := url.Values{}
	if f.Merchant != "" {
		v.Set("merchant", f.Merchant)
	}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if f.Blocked {
		v.Set("blocked", "1")
	}
	return v
}

// IsEmpty reports whether no field is set.
func (f paymentFilterForm) IsEmpty() bool { return len(f.Values()) == 0 }

func (f paymentFilterForm) paymentFilter() PaymentFilter {
	return PaymentFilter{MerchantID: f.Merchant, Status: checkout.ChargeStatus(f.Status), BlockedOnly: f.Blocked}
}

// paymentsView is the payments list's data.
type paymentsView struct {
	Filter    paymentFilterForm
	Merchants []Merchant
	Statuses  []checkout.ChargeStatus
	Rows      []PaymentRow
	NewerURL  string
	OlderURL  string
	FirstURL  string
}

func (d *Dashboard) handlePayments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := parsePaymentFilter(q)
	req, err := pageRequest(q.Get("after"), q.Get("before"), "ch")
	if err != nil {
		d.message(w, r, http.StatusBadRequest, "Invalid page link", "This page link is damaged. Start again from the payments list.")
		return
	}
	v := paymentsView{Filter: f, Statuses: checkout.ChargeStatuses}
	if v.Merchants, err = d.cfg.Reads.ListMerchants(r.Context(), merchantOptionsLimit); err != nil {
		d.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	if len(f.Errors) > 0 {
		status = http.StatusBadRequest
	} else {
		rows, more, err := d.cfg.Reads.ListPayments(r.Context(), f.paymentFilter(), req)
		if err != nil {
			d.serverError(w, r, err)
			return
		}
		v.Rows = rows
		p := newPager(rows, more, req, func(row PaymentRow) Cursor { return Cursor{At: row.Created, ID: row.ID} })
		v.NewerURL, v.OlderURL, v.FirstURL = pagerURLs("/dashboard/payments", f.Values(), p)
	}
	d.page(w, r, status, "payments", navPayments, "Payments", v)
}

// paymentView is a charge's page data.
type paymentView struct {
	Payment  *PaymentDetail
	Velocity *checkout.Velocity
	// FailureMessage is what the customer was told of a decline.
	FailureMessage string
}

// loadPayment reads the charge named in the URL and its velocity standing,
// through its own merchant's scope. When it returns false it has already
// answered.
func (d *Dashboard) loadPayment(w http.ResponseWriter, r *http.Request) (*PaymentDetail, bool) {
	chargeID := chi.URLParam(r, "id")
	if !id.HasPrefix(chargeID, "ch") {
		d.notFound(w, r)
		return nil, false
	}
	p, err := d.cfg.Reads.Payment(r.Context(), chargeID)
	if err != nil {
		d.fail(w, r, err)
		return nil, false
	}
	return p, true
}

func (d *Dashboard) handlePayment(w http.ResponseWriter, r *http.Request) {
	p, ok := d.loadPayment(w, r)
	if !ok {
		return
	}
	v, err := d.cfg.Payments.Velocity(r.Context(), p.MerchantID, p.ID)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	view := paymentView{Payment: p, Velocity: v}
	switch {
	case p.Risk.Decision == checkout.RiskBlock:
		// Test mode, Herald's only mode, explains blocks on the page.
		view.FailureMessage = "That the payment was blocked, by which rule, and when to try again (test mode)."
	case p.FailureCode != "":
		view.FailureMessage = checkout.DeclineMessage(p.FailureCode)
	}
	d.page(w, r, http.StatusOK, "payment", navPayments, "Payment "+p.ID, view)
}

// scopeLabel names what a velocity scope counts for people.
func scopeLabel(s checkout.VelocityScope) string {
	switch s {
	case checkout.ScopeSession:
		return "Checkout session"
	case checkout.ScopeCard:
		return "Card"
	case checkout.ScopeIP:
		return "Client IP"
	}
	return string(s)
}

// scopeValue shows what a scope counts by for a charge: the session id,
// the card as its brand and last four (not the fingerprint), the IP.
func scopeValue(p *PaymentDetail, s checkout.ScopeVelocity) string {
	if s.Scope == checkout.ScopeCard {
		return fmt.Sprintf("%s •••• %s", p.Brand, p.Last4)
	}
	return s.Value
}

func (d *Dashboard) handleVelocityClear(w http.ResponseWriter, r *http.Request) {
	p, ok := d.loadPayment(w, r)
	if !ok {
		return
	}
	scope := checkout.VelocityScope(r.PostFormValue("scope"))
	if !slices.Contains(checkout.VelocityScopes, scope) {
		d.message(w, r, http.StatusBadRequest, "Not done", "Choose the session, the card or the client IP to clear.")
		return
	}
	operator := sessionFrom(r.Context()).Operator
	detail := map[string]string{"scope": string(scope)}
	switch scope {
	case checkout.ScopeSession:
		detail["session"] = p.SessionID
	case checkout.ScopeCard:
		detail["card"] = p.Brand + " " + p.Last4
	case checkout.ScopeIP:
		detail["ip"] = p.ClientIP
	}
	err := d.audited(r, &AuditEntry{Action: ActionVelocityClear, MerchantID: p.MerchantID, Target: p.ID, Detail: detail},
		func(ctx context.Context) (string, string, error) {
			v, err := d.cfg.Payments.ClearVelocity(ctx, p.MerchantID, p.ID, scope, operator)
			if err != nil {
				return "", "", err
			}
			for _, s := range v.Scopes {
				if s.Scope == scope {
					return "", fmt.Sprintf("%s cleared: earlier declines no longer count (%d now)", scopeLabel(scope), s.Declines), nil
				}
			}
			return "", scopeLabel(scope) + " cleared", nil
		})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/payments/"+p.ID+"?notice=cleared_"+string(scope), http.StatusSeeOther)
}
