package dashboardpg

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/internal/pgtest"
)

// Charges of every status, a few blocked, two merchants; each filter and
// both paging directions return exactly the rows they should, newest
// first.
func TestListPayments(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := New(pool)
	acme := dashboardtest.Merchant(t, pool, "Acme")
	calm := dashboardtest.Merchant(t, pool, "Calm")
	base := time.Now().Truncate(time.Second).Add(-time.Hour)
	type seeded struct {
		id       string
		merchant string
		opts     dashboardtest.ChargeOpts
	}
	var all []seeded // oldest first
	statuses := checkout.ChargeStatuses
	for i := range 12 {
		merchant := acme
		if i%3 == 2 {
			merchant = calm
		}
		o := dashboardtest.ChargeOpts{Status: statuses[i%len(statuses)], Created: base.Add(time.Duration(i) * time.Minute),
			ClientIP: "192.0.2.7"}
		if i%4 == 1 {
			// Challenged: risky, yet not blocked.
			o.Decision, o.Reasons = checkout.RiskChallenge, []string{checkout.ReasonAmountOverThreshold}
		}
		if i%4 == 3 {
			o = dashboardtest.ChargeOpts{Status: checkout.ChargeFailed, FailureCode: checkout.DeclineFraudulent,
				Decision: checkout.RiskBlock, Reasons: []string{checkout.ReasonIPDeclines}, Created: o.Created}
		}
		all = append(all, seeded{dashboardtest.Charge(t, pool, merchant, o), merchant, o})
	}
	want := func(keep func(seeded) bool) []string {
		var ids []string
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				ids = append(ids, all[i].id)
			}
		}
		return ids
	}
	ids := func(rows []dashboard.PaymentRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.ID)
		}
		return out
	}

	for _, tt := range []struct {
		name   string
		filter dashboard.PaymentFilter
		keep   func(seeded) bool
	}{
		{"All", dashboard.PaymentFilter{}, func(seeded) bool { return true }},
		{"Merchant", dashboard.PaymentFilter{MerchantID: calm}, func(s seeded) bool { return s.merchant == calm }},
		{"Failed", dashboard.PaymentFilter{Status: checkout.ChargeFailed}, func(s seeded) bool { return s.opts.Status == checkout.ChargeFailed }},
		{"Blocked", dashboard.PaymentFilter{BlockedOnly: true}, func(s seeded) bool { return s.opts.Decision == checkout.RiskBlock }},
		{"BlockedOfAMerchant", dashboard.PaymentFilter{BlockedOnly: true, MerchantID: acme},
			func(s seeded) bool { return s.opts.Decision == checkout.RiskBlock && s.merchant == acme }},
		{"BlockedSucceeded", dashboard.PaymentFilter{BlockedOnly: true, Status: checkout.ChargeSucceeded}, func(seeded) bool { return false }},
		{"Processing", dashboard.PaymentFilter{Status: checkout.ChargeProcessing},
			func(s seeded) bool { return s.opts.Status == checkout.ChargeProcessing }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			expected := want(tt.keep)
			rows, more, err := store.ListPayments(ctx, tt.filter, dashboard.PageRequest{Limit: 50})
			require.NoError(t, err)
			require.False(t, more)
			require.Equal(t, expected, ids(rows))

			// Two at a time, older then back newer.
			var walked []string
			req := dashboard.PageRequest{Limit: 2}
			var pages [][]dashboard.PaymentRow
			for {
				rows, more, err := store.ListPayments(ctx, tt.filter, req)
				require.NoError(t, err)
				walked = append(walked, ids(rows)...)
				pages = append(pages, rows)
				if !more {
					break
				}
				last := rows[len(rows)-1]
				req = dashboard.PageRequest{Limit: 2, After: &dashboard.Cursor{At: last.Created, ID: last.ID}}
			}
			require.Equal(t, expected, walked)
			if len(pages) > 1 {
				second := pages[1]
				back, more, err := store.ListPayments(ctx, tt.filter, dashboard.PageRequest{Limit: 2,
					Before: &dashboard.Cursor{At: second[0].Created, ID: second[0].ID}})
				require.NoError(t, err)
				require.False(t, more)
				require.Equal(t, ids(pages[0]), ids(back))
			}
		})
	}

	t.Run("Row", func(t *testing.T) {
		t.Parallel()

		rows, _, err := store.ListPayments(ctx, dashboard.PaymentFilter{BlockedOnly: true, MerchantID: acme}, dashboard.PageRequest{Limit: 1})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		r := rows[0]
		require.Equal(t, "Acme", r.MerchantName)
		require.Equal(t, checkout.ChargeFailed, r.Status)
		require.Equal(t, checkout.DeclineFraudulent, r.FailureCode)
		require.Equal(t, checkout.Risk{Decision: checkout.RiskBlock, Level: "highest", Reasons: []string{checkout.ReasonIPDeclines}}, r.Risk)
		require.Equal(t, "", r.ClientIP)
		require.Equal(t, int64(1000), r.Amount)
		require.Equal(t, "visa", r.Brand)

		p, err := store.Payment(ctx, all[0].id)
		require.NoError(t, err)
		require.Equal(t, "192.0.2.7", p.ClientIP)
		require.Equal(t, checkout.StatusOpen, p.SessionStatus)
		require.Equal(t, "Acme", p.MerchantName)
		require.WithinDuration(t, all[0].opts.Created, p.Updated, 0)

		_, err = store.Payment(ctx, "ch_missing")
		require.ErrorIs(t, err, dashboard.ErrNotFound)
	})
}
