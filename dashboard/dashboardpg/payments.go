package dashboardpg

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/dashboard"
)

// paymentColumns are the charge columns the payments pages show; the
// client IP as host() text.
const paymentColumns = `c.id, c.merchant_id, c.session_id, c.amount, c.currency, c.status, c.failure_code, c.brand, c.last4,
	c.exp_month, c.exp_year, c.risk_level, c.risk_decision, c.risk_reasons, c.three_d_secure, c.billing_name,
	c.billing_email, c.created_at, COALESCE(host(c.client_ip), '') AS client_ip`

// blockedCond keeps the attempts the fraud rules blocked. The decision is
// written out, not passed as an argument: the partial index
// charges_blocked_created serves the blocked list only when the query
// repeats its predicate literally (plans_test.go checks the literal is
// still checkout.RiskBlock).
const blockedCond = "c.risk_decision = 'block'"

// paymentsQuery builds the list query like the deliveries list's: each
// status is its own branch, read in (created_at, id) order from
// charges_status_created or, for one merchant,
// charges_merchant_status_created, and stopped after a page; the branches
// are merged and cut to a page again. The blocked attempts alone come from
// their partial index instead.
func paymentsQuery(f dashboard.PaymentFilter, p dashboard.PageRequest) (string, []any) {
	a := args{}
	var conds []string
	if f.MerchantID != "" {
		conds = append(conds, "c.merchant_id = "+a.add(f.MerchantID))
	}
	conds, orderBy := pageBounds("c", p, conds, &a)
	limit := a.add(p.Limit + 1)
	branch := func(where []string) string {
		return "(SELECT " + paymentColumns + " FROM charges c WHERE " + strings.Join(where, " AND ") + " " + orderBy +
			" LIMIT " + limit + ")"
	}
	var branches []string
	if f.BlockedOnly {
		where := append([]string{blockedCond}, conds...)
		if f.Status != "" {
			where = append(where, "c.status = "+a.add(f.Status))
		}
		branches = append(branches, branch(where))
	} else {
		statuses := checkout.ChargeStatuses
		if f.Status != "" {
			statuses = []checkout.ChargeStatus{f.Status}
		}
		for _, st := range statuses {
			branches = append(branches, branch(append([]string{"c.status = " + a.add(st)}, conds...)))
		}
	}
	return `SELECT c.*, m.name FROM (` + strings.Join(branches, " UNION ALL ") + `) c
		JOIN merchants m ON m.id = c.merchant_id ` + orderBy + ` LIMIT ` + limit, a
}

// paymentDest lists where a paymentColumns row scans to.
func paymentDest(r *dashboard.PaymentRow) []any {
	c := &r.Charge
	return []any{&c.ID, &c.MerchantID, &c.SessionID, &c.Amount, &c.Currency, &c.Status, &c.FailureCode, &c.Brand, &c.Last4,
		&c.ExpMonth, &c.ExpYear, &c.Risk.Level, &c.Risk.Decision, &c.Risk.Reasons, &c.ThreeDSecure, &c.BillingName,
		&c.BillingEmail, &c.Created, &r.ClientIP}
}

// ListPayments implements dashboard.ReadModel.
func (s *Store) ListPayments(ctx context.Context, f dashboard.PaymentFilter, p dashboard.PageRequest) ([]dashboard.PaymentRow, bool, error) {
	sql, a := paymentsQuery(f, p)
	return listPage(ctx, s, "payments", p, sql, a, func(row pgx.CollectableRow) (dashboard.PaymentRow, error) {
		var r dashboard.PaymentRow
		err := row.Scan(append(paymentDest(&r), &r.MerchantName)...)
		return r, err
	})
}

// Payment implements dashboard.ReadModel.
func (s *Store) Payment(ctx context.Context, chargeID string) (*dashboard.PaymentDetail, error) {
	var p dashboard.PaymentDetail
	err := s.pool.QueryRow(ctx, `SELECT `+paymentColumns+`, m.name, cs.status, c.updated_at FROM charges c
		JOIN merchants m ON m.id = c.merchant_id
		JOIN checkout_sessions cs ON cs.id = c.session_id
		WHERE c.id = $1`, chargeID).Scan(append(paymentDest(&p.PaymentRow), &p.MerchantName, &p.SessionStatus, &p.Updated)...)
	if err != nil {
		return nil, notFound(err, "find payment")
	}
	return &p, nil
}
