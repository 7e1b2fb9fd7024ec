package deliverypg

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/internal/validation"
	"github.com/heraldpay/herald/webhook"
)

// eventFilters is every shape of event list query: each filter on and off,
// with each kind of cursor.
func eventFilters(cursor string) []delivery.EventFilter {
	since, until := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	no, yes := false, true
	var out []delivery.EventFilter
	for mask := range 1 << 4 {
		for _, c := range []struct{ after, before string }{{"", ""}, {cursor, ""}, {"", cursor}} {
			f := delivery.EventFilter{Limit: 10, StartingAfter: c.after, EndingBefore: c.before}
			if mask&1 != 0 {
				f.Type = webhook.TypeCheckoutSessionCompleted
			}
			if mask&2 != 0 {
				f.CreatedGTE = &since
			}
			if mask&4 != 0 {
				f.CreatedLT = &until
			}
			if mask&8 != 0 {
				f.DeliverySuccess = &no
			}
			out = append(out, f)
			if mask == 8 {
				f.DeliverySuccess = &yes
				out = append(out, f)
			}
		}
	}
	return out
}

// Reconciliation reads stay index reads on a merchant with a long history:
// every shape of the events list (filters, cursors) is planned generically
// (as pgx runs it once prepared) with sequential scans discouraged, and no
// plan reads events or deliveries from end to end.
func TestEventListIndexed(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	var err error
	url := "https://hooks.example.com/a"
	e, err := svc.CreateEndpoint(ctx, m.ID, delivery.EndpointParams{URL: &url, EnabledEvents: []string{"*"}})
	require.NoError(t, err)
	for range 20 {
		other, _, err := accountpg.NewStore(pool).Create(ctx, account.Merchant{Name: "Other"})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_' || $1 || i, $1, 'charge.succeeded', now() - i * interval '10 seconds', '{}' FROM generate_series(1, 1000) i`, other.ID)
		require.NoError(t, err)
	}
	for _, sql := range []string{
		`INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_' || i, $1, 'charge.succeeded', now() - i * interval '10 seconds', '{}' FROM generate_series(1, 20000) i`,
		`INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, created_at)
			SELECT 'dlv_' || i, $1, 'evt_' || i, $2, 'charge.succeeded',
				(ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'skipped'])[1 + i % 9],
				now() - i * interval '10 seconds' FROM generate_series(1, 20000) i`,
		`ANALYZE`,
	} {
		_, err := pool.Exec(ctx, sql, []any{m.ID, e.ID}[:strings.Count(sql, "$")]...)
		require.NoError(t, err)
	}
	rec.Take()

	seqScan := regexp.MustCompile(`Seq Scan on (events|deliveries)\b`)
	for i, f := range eventFilters("evt_5000") {
		_, _, err := svc.ListEvents(ctx, m.ID, f)
		require.NoError(t, err)
		for _, st := range rec.Take() {
			plan := pgtest.ExplainGeneric(t, pool, st)
			require.False(t, seqScan.MatchString(plan), "filter %d %+v reads a whole table:\n%s\n%s", i, f, st.SQL, plan)
			if strings.Contains(st.SQL, "ORDER BY") {
				require.Regexp(t, `(Index (Only )?Scan( Backward)? using|Bitmap Index Scan on) events_merchant_(type_)?created\b`, plan,
					"filter %d %+v walks events outside the merchant's window:\n%s\n%s", i, f, st.SQL, plan)
			}
		}
	}
}

// The live stream's reads are index reads too: its polls, many a second
// per open stream, read only the merchant's newest events.
func TestFeedIndexed(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	var err error
	for i := range 20 {
		other, _, err := accountpg.NewStore(pool).Create(ctx, account.Merchant{Name: "Other"})
		require.NoError(t, err)
		merchantID := other.ID
		if i == 0 {
			merchantID = m.ID
		}
		// Interleaved, as merchants' events are.
		_, err = pool.Exec(ctx, `INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_' || $1 || i, $1, 'charge.succeeded', now() - i * interval '10 seconds', '{}' FROM generate_series(1, 1000) i`,
			merchantID)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `ANALYZE`)
	require.NoError(t, err)
	rec.Take()

	head, err := svc.FeedHead(ctx, m.ID)
	require.NoError(t, err)
	_, err = svc.FeedPosition(ctx, m.ID, "evt_"+m.ID+"10")
	require.NoError(t, err)
	for _, types := range [][]string{nil, {webhook.TypeChargeSucceeded}} {
		_, err = svc.ReadFeed(ctx, m.ID, head-10, []int64{head - 5}, types, 100)
		require.NoError(t, err)
	}
	for _, st := range rec.Take() {
		plan := pgtest.ExplainGeneric(t, pool, st)
		require.Regexp(t, `Index (Only )?Scan( Backward)? using (events_merchant_seq|events_pkey|events_seq_key)`, plan, "%s\n%s", st.SQL, plan)
	}
}

// The filters select what their documentation says, on events with every
// kind of delivery outcome, and ending_before pages back to where
// starting_after came from.
func TestEventFilters(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	svc := NewService(pool, Config{Box: box, Inserter: inserter})
	m, _, err := accountpg.NewStore(pool).Create(ctx, account.Merchant{Name: "Acme"})
	require.NoError(t, err)
	other, _, err := accountpg.NewStore(pool).Create(ctx, account.Merchant{Name: "Globex"})
	require.NoError(t, err)
	newEndpoint := func(merchantID string, events ...string) string {
		url := "https://hooks.example.com/" + merchantID
		e, err := svc.CreateEndpoint(ctx, merchantID, delivery.EndpointParams{URL: &url, EnabledEvents: events})
		require.NoError(t, err)
		return e.ID
	}
	a := newEndpoint(m.ID, "*")
	b := newEndpoint(m.ID, webhook.TypeCheckoutSessionCompleted)
	newEndpoint(other.ID, "*")

	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	publish := func(merchantID, typ string, at time.Time) string {
		ev, err := webhook.NewEvent(id.New("evt"), typ, at.Unix(), map[string]string{"object": "test"})
		require.NoError(t, err)
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return svc.PublishTx(ctx, tx, merchantID, ev) }))
		return ev.ID
	}
	setStatus := func(eventID, endpointID string, st delivery.Status) {
		_, err := pool.Exec(ctx, `UPDATE deliveries SET status = $3 WHERE event_id = $1 AND endpoint_id = $2`, eventID, endpointID, st)
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

	_, _, err = svc.ListEvents(ctx, m.ID, delivery.EventFilter{Limit: 10, StartingAfter: e1, EndingBefore: e3})
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "ending_before", verr.Param)
	_, _, err = svc.ListEvents(ctx, other.ID, delivery.EventFilter{Limit: 10, EndingBefore: e3})
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "ending_before", verr.Param, "another merchant's event is no cursor")
}
