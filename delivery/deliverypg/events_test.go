package deliverypg

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/validation"
	"github.com/heraldpay/herald/webhook"
)

// The filters select what their documentation says, on events with every
// kind of delivery outcome, and ending_before pages back to where
// starting_after came from.
func TestEventFilters(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	svc, m := newService(t, pool)
	other, _ := accounttest.NewMerchant(t, pool, "Globex")
	newEndpoint := func(merchantID string, events ...string) string {
		return createEndpoint(t, svc, merchantID, "https://hooks.example.com/"+merchantID, events...).ID
	}
	a := newEndpoint(m.ID, "*")
	b := newEndpoint(m.ID, webhook.TypeCheckoutSessionCompleted)
	newEndpoint(other.ID, "*")

	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	publish := func(merchantID, typ string, at time.Time) string {
		return publishEvent(t, pool, svc, merchantID, typ, at)
	}
	setStatus := func(eventID, endpointID string, st delivery.Status) {
		_, err := pool.Exec(ctx, `UPDATE deliveries d SET status = $3, `+setRareStatus(map[string]string{"status": "$3"})+`
			WHERE event_id = $1 AND endpoint_id = $2`, eventID, endpointID, st)
		require.NoError(t, err)
	}
	// e0, e3: both deliveries succeeded. e1: a succeeded, b failed. e2
	// (expired, a only): pending. e4: a succeeded, b skipped. e5
	// (charge.failed, a only): canceled.
	e0 := publish(m.ID, webhook.TypeCheckoutSessionCompleted, base)
	e1 := publish(m.ID, webhook.TypeCheckoutSessionCompleted, base.Add(time.Minute))
	e2 := publish(m.ID, webhook.TypeCheckoutSessionExpired, base.Add(2*time.Minute))
	e3 := publish(m.ID, webhook.TypeCheckoutSessionCompleted, base.Add(3*time.Minute))
	e4 := publish(m.ID, webhook.TypeCheckoutSessionCompleted, base.Add(4*time.Minute))
	e5 := publish(m.ID, webhook.TypeChargeFailed, base.Add(5*time.Minute))
	publish(other.ID, webhook.TypeCheckoutSessionCompleted, base.Add(time.Minute))
	for _, ev := range []string{e0, e1, e3, e4} {
		setStatus(ev, a, delivery.StatusSucceeded)
	}
	setStatus(e0, b, delivery.StatusSucceeded)
	setStatus(e3, b, delivery.StatusSucceeded)
	setStatus(e1, b, delivery.StatusFailed)
	setStatus(e4, b, delivery.StatusSkipped)
	setStatus(e5, a, delivery.StatusCanceled)

	ids := func(f delivery.EventFilter) ([]string, bool) {
		t.Helper()
		if f.Limit == 0 {
			f.Limit = 10
		}
		list, more, err := svc.ListEvents(ctx, m.ID, f)
		require.NoError(t, err)
		var out []string
		for _, ev := range list {
			out = append(out, ev.ID)
		}
		return out, more
	}
	at := func(d time.Duration) *time.Time { v := base.Add(d); return &v }
	no, yes := false, true
	for _, tt := range []struct {
		name string
		f    delivery.EventFilter
		want []string
	}{
		{"all, newest first", delivery.EventFilter{}, []string{e5, e4, e3, e2, e1, e0}},
		{"created[gte] includes its second", delivery.EventFilter{CreatedGTE: at(3 * time.Minute)}, []string{e5, e4, e3}},
		{"created[lt] excludes its second", delivery.EventFilter{CreatedLT: at(time.Minute)}, []string{e0}},
		{"window", delivery.EventFilter{CreatedGTE: at(time.Minute), CreatedLT: at(3 * time.Minute)}, []string{e2, e1}},
		{"type", delivery.EventFilter{Type: webhook.TypeCheckoutSessionExpired}, []string{e2}},
		{"not delivered: failed, pending, skipped, canceled", delivery.EventFilter{DeliverySuccess: &no}, []string{e5, e4, e2, e1}},
		{"delivered everywhere", delivery.EventFilter{DeliverySuccess: &yes}, []string{e3, e0}},
		{"not delivered in a window of one type", delivery.EventFilter{DeliverySuccess: &no, Type: webhook.TypeCheckoutSessionCompleted,
			CreatedLT: at(4 * time.Minute)}, []string{e1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, more := ids(tt.f)
			require.Equal(t, tt.want, got)
			require.False(t, more)
		})
	}

	// Forward two at a time, then back again with ending_before.
	page1, more := ids(delivery.EventFilter{Limit: 2})
	require.Equal(t, []string{e5, e4}, page1)
	require.True(t, more)
	page2, more := ids(delivery.EventFilter{Limit: 2, StartingAfter: e4})
	require.Equal(t, []string{e3, e2}, page2)
	require.True(t, more)
	back, more := ids(delivery.EventFilter{Limit: 2, EndingBefore: e3})
	require.Equal(t, []string{e5, e4}, back, "the page before e3, newest first")
	require.False(t, more, "nothing is newer than e5")
	back, more = ids(delivery.EventFilter{Limit: 1, EndingBefore: e3})
	require.Equal(t, []string{e4}, back, "the nearest newer event")
	require.True(t, more)
	filtered, _ := ids(delivery.EventFilter{EndingBefore: e1, DeliverySuccess: &no})
	require.Equal(t, []string{e5, e4, e2}, filtered, "cursors combine with filters")

	_, _, err := svc.ListEvents(ctx, m.ID, delivery.EventFilter{Limit: 10, StartingAfter: e1, EndingBefore: e3})
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "ending_before", verr.Param)
	_, _, err = svc.ListEvents(ctx, other.ID, delivery.EventFilter{Limit: 10, EndingBefore: e3})
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "ending_before", verr.Param, "another merchant's event is no cursor")
}

// The delivery list is one list, newest first, whatever status each
// delivery has: reading it page by page (pending is two branches
// underneath, see StatusBranches) gives every delivery of the merchant
// once, in the order of the whole list, and each filter keeps exactly its
// deliveries.
func TestListDeliveriesPagesAcrossStatuses(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	svc, m := newService(t, pool)
	other, _ := accounttest.NewMerchant(t, pool, "Globex")
	a := createEndpoint(t, svc, m.ID, "https://hooks.example.com/a", "*").ID
	b := createEndpoint(t, svc, m.ID, "https://hooks.example.com/b", "*").ID
	createEndpoint(t, svc, other.ID, "https://hooks.example.com/other", "*")

	// 12 events a second apart, two deliveries each, with the statuses
	// taking turns; the other merchant's events interleave.
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var want []string // newest first
	for i := range 12 {
		at := base.Add(time.Duration(i) * time.Second)
		publishEvent(t, pool, svc, other.ID, webhook.TypeChargeSucceeded, at)
		eventID := publishEvent(t, pool, svc, m.ID, webhook.TypeChargeSucceeded, at)
		for j, endpointID := range []string{a, b} {
			st := delivery.Statuses[(2*i+j)%len(delivery.Statuses)]
			var id string
			require.NoError(t, pool.QueryRow(ctx, `UPDATE deliveries d SET status = $3, created_at = $4, `+setRareStatus(map[string]string{"status": "$3"})+`
				WHERE event_id = $1 AND endpoint_id = $2 RETURNING id`, eventID, endpointID, st, at).Scan(&id))
			want = append(want, id)
		}
	}
	// The pending ones to b were tried once: they are found by their rare
	// status, those to a (still queued) through their jobs, and the two
	// kinds interleave in time.
	_, err := pool.Exec(ctx, `UPDATE deliveries d SET attempts = 1, `+setRareStatus(map[string]string{"attempts": "1"})+`
		WHERE endpoint_id = $1 AND status = $2`, b, delivery.StatusPending)
	require.NoError(t, err)
	byID := map[string]*delivery.Delivery{}
	all, more, err := svc.ListDeliveries(ctx, m.ID, delivery.DeliveryFilter{}, 100, "")
	require.NoError(t, err)
	require.False(t, more)
	for _, d := range all {
		byID[d.ID] = d
	}
	require.Len(t, all, len(want))
	for i := 1; i < len(all); i++ {
		prev, cur := all[i-1], all[i]
		require.True(t, prev.Created.After(cur.Created) || prev.Created.Equal(cur.Created) && prev.ID > cur.ID,
			"newest first, ties by id: %s before %s", prev.ID, cur.ID)
	}

	for _, f := range []delivery.DeliveryFilter{
		{}, {EndpointID: a}, {Status: delivery.StatusFailed}, {EndpointID: b, Status: delivery.StatusSucceeded},
		{Status: delivery.StatusPending},
	} {
		var expect []string
		for _, d := range all {
			if (f.EndpointID == "" || d.EndpointID == f.EndpointID) && (f.Status == "" || d.Status == f.Status) {
				expect = append(expect, d.ID)
			}
		}
		require.NotEmpty(t, expect, "filter %+v selects something", f)
		var got []string
		after := ""
		for page := 0; ; page++ {
			require.Less(t, page, len(want), "filter %+v: paging ends", f)
			list, more, err := svc.ListDeliveries(ctx, m.ID, f, 3, after)
			require.NoError(t, err)
			for _, d := range list {
				got = append(got, d.ID)
				require.Equal(t, byID[d.ID].Status, d.Status)
			}
			if !more {
				break
			}
			after = list[len(list)-1].ID
		}
		require.Equal(t, expect, got, "filter %+v: every delivery once, in the list's order", f)
	}
	slices.Sort(want)
	ids := make([]string, 0, len(all))
	for _, d := range all {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	require.Equal(t, want, ids, "the merchant's deliveries, none of the other merchant's")
}
