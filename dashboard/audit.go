package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
)

// audited records e as the signed-in operator's, runs act, then records how
// it ended. If the entry cannot be written, act does not run: nothing is
// done from the dashboard without a trace. act returns the object it made
// or touched (when e.Target could not say in advance) and a one-line result.
func (d *Dashboard) audited(r *http.Request, e *AuditEntry, act func(ctx context.Context) (target, result string, err error)) error {
	ctx := r.Context()
	s := sessionFrom(ctx)
	e.At, e.Operator, e.SessionID, e.ClientIP, e.UserAgent = d.cfg.Now(), s.Operator, s.ID, clientIP(r), userAgent(r)
	e.Outcome = OutcomePending
	auditID, err := d.cfg.Audit.RecordAudit(ctx, e)
	if err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	target, result, actErr := act(ctx)
	outcome := OutcomeSucceeded
	if actErr != nil {
		outcome, result = OutcomeFailed, actErr.Error()
	}
	// The action has happened: record its outcome even if the browser left.
	if err := d.cfg.Audit.FinishAudit(context.WithoutCancel(ctx), auditID, outcome, target, result); err != nil {
		d.cfg.Logger.ErrorContext(ctx, "finish audit entry", "audit_id", auditID, "err", err,
			"request_id", httpapi.RequestID(ctx))
	}
	return actErr
}

// auditView is the audit log page's data.
type auditView struct {
	Entries []AuditEntry
	// OlderURL and NewestURL link the neighbouring pages ("" for none).
	OlderURL  string
	NewestURL string
}

func (d *Dashboard) handleAudit(w http.ResponseWriter, r *http.Request) {
	var before int64
	if v := r.URL.Query().Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			d.notFound(w, r)
			return
		}
		before = n
	}
	entries, more, err := d.cfg.Audit.ListAudit(r.Context(), pageSize, before)
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	v := auditView{Entries: entries}
	if more && len(entries) > 0 {
		v.OlderURL = withQuery("/dashboard/audit", url.Values{"before": {strconv.FormatInt(entries[len(entries)-1].ID, 10)}})
	}
	if before != 0 {
		v.NewestURL = "/dashboard/audit"
	}
	d.page(w, r, http.StatusOK, "audit", navAudit, "Audit log", v)
}

// targetURL links an audited object to its page ("" when it has none).
func targetURL(target, merchantID string) string {
	switch {
	case id.HasPrefix(target, "dlv"):
		return "/dashboard/deliveries/" + target
	case id.HasPrefix(target, "rdr"):
		return "/dashboard/redrives/" + target
	case id.HasPrefix(target, "ch"):
		return "/dashboard/payments/" + target
	case id.HasPrefix(target, "we"):
		return withQuery("/dashboard/endpoints", url.Values{"merchant": {merchantID}})
	case id.HasPrefix(target, account.KeyIDPrefix):
		return withQuery("/dashboard/keys", url.Values{"merchant": {merchantID}})
	}
	return ""
}
