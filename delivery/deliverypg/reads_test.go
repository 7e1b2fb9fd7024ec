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
	"github.com/heraldpay/herald/webhook"
)

// The delivery list is one list, newest first, whatever status each
// delivery has: reading it page by page (each status its own branch
// underneath) gives every delivery of the merchant once, in the order of
// the whole list, and each filter keeps exactly its deliveries.
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
			require.NoError(t, pool.QueryRow(ctx, `UPDATE deliveries SET status = $3, created_at = $4
				WHERE event_id = $1 AND endpoint_id = $2 RETURNING id`, eventID, endpointID, st, at).Scan(&id))
			want = append(want, id)
		}
	}
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
