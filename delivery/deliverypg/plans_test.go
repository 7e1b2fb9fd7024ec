package deliverypg

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/webhook"
)

// newRecordedService is a delivery service whose pool records every
// statement (rec), with one merchant (m), for the EXPLAIN tests.
func newRecordedService(t *testing.T) (*pgtest.Recorder, *pgxpool.Pool, *Service, account.Merchant) {
	t.Helper()
	rec := &pgtest.Recorder{}
	pool := pgtest.NewRecordingPool(t, rec)
	svc, m := newService(t, pool)
	return rec, pool, svc, m
}

// Every statement the read side of the services issues (the merchant API's
// lists and lookups), with every shape of filter and cursor, is recorded as
// it runs and then planned with EXPLAIN against the migrated schema: a
// renamed column or a mistyped status argument fails here, not in an
// end-to-end test.
func TestReadQueriesExplained(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	e := createEndpoint(t, svc, m.ID, "https://hooks.example.com/a", "*")
	var eventIDs []string
	for range 3 {
		eventIDs = append(eventIDs, publishEvent(t, pool, svc, m.ID, webhook.TypeCheckoutSessionCompleted, time.Now()))
	}
	deliveries, _, err := svc.ListDeliveries(ctx, m.ID, delivery.DeliveryFilter{}, 10, "")
	require.NoError(t, err)
	require.Len(t, deliveries, 3)
	rd, err := svc.CreateRedrive(ctx, m.ID, delivery.RedriveParams{Status: delivery.StatusFailed})
	require.NoError(t, err)
	rec.Take() // the seeding is not what is checked

	calls := map[string]func(t *testing.T){
		"FindEndpoint": func(t *testing.T) {
			_, err := svc.FindEndpoint(ctx, m.ID, e.ID)
			require.NoError(t, err)
		},
		"ListEndpoints": func(t *testing.T) {
			for _, after := range []string{"", e.ID} {
				_, _, err := svc.ListEndpoints(ctx, m.ID, 10, after)
				require.NoError(t, err)
			}
		},
		"FindEvent": func(t *testing.T) {
			_, err := svc.FindEvent(ctx, m.ID, eventIDs[0])
			require.NoError(t, err)
		},
		"ListEvents": func(t *testing.T) {
			for _, f := range eventFilters(eventIDs[1]) {
				_, _, err := svc.ListEvents(ctx, m.ID, f)
				require.NoError(t, err)
			}
		},
		"FindDelivery": func(t *testing.T) {
			_, err := svc.FindDelivery(ctx, m.ID, deliveries[0].ID)
			require.NoError(t, err)
		},
		// Every combination of filters, with and without a cursor.
		"ListDeliveries": func(t *testing.T) {
			for mask := range 1 << 3 {
				var f delivery.DeliveryFilter
				if mask&1 != 0 {
					f.EndpointID = e.ID
				}
				if mask&2 != 0 {
					f.EventID = eventIDs[0]
				}
				if mask&4 != 0 {
					f.Status = delivery.StatusPending
				}
				for _, after := range []string{"", deliveries[1].ID} {
					_, _, err := svc.ListDeliveries(ctx, m.ID, f, 10, after)
					require.NoError(t, err)
				}
			}
		},
		"FindRedrive": func(t *testing.T) {
			_, err := svc.FindRedrive(ctx, m.ID, rd.ID)
			require.NoError(t, err)
		},
	}
	reads := []string{"FindEndpoint", "ListEndpoints", "FindEvent", "ListEvents", "FindDelivery", "ListDeliveries", "FindRedrive"}
	for _, iface := range []reflect.Type{
		reflect.TypeFor[delivery.EndpointService](), reflect.TypeFor[delivery.EventService](), reflect.TypeFor[delivery.DeliveryService](),
	} {
		for m := range iface.Methods() {
			if len(m.Name) > 4 && (m.Name[:4] == "Find" || m.Name[:4] == "List") {
				require.Contains(t, reads, m.Name, "%s.%s has no case here", iface.Name(), m.Name)
			}
		}
	}
	for _, name := range reads {
		t.Run(name, func(t *testing.T) {
			calls[name](t)
			statements := rec.Take()
			require.NotEmpty(t, statements)
			for _, st := range statements {
				pgtest.Explain(t, pool, st)
			}
		})
	}
}

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
// plan reads events or deliveries from end to end; the events not
// delivered are found from their deliveries.
func TestEventListIndexed(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	seedHistory(t, pool, svc, m.ID)
	rec.Take()

	seqScan := regexp.MustCompile(`Seq Scan on (events|deliveries)\b`)
	for i, f := range eventFilters("evt_5000") {
		_, _, err := svc.ListEvents(ctx, m.ID, f)
		require.NoError(t, err)
		for _, st := range rec.Take() {
			plan := pgtest.ExplainGeneric(t, pool, st)
			require.False(t, seqScan.MatchString(plan), "filter %d %+v reads a whole table:\n%s\n%s", i, f, st.SQL, plan)
			switch {
			case !strings.Contains(st.SQL, "ORDER BY"): // a cursor's lookup
			case f.DeliverySuccess != nil && !*f.DeliverySuccess:
				// From the deliveries that did not succeed to their events
				// (by id, or within the window asked for), however long the
				// history of those that did.
				require.Regexp(t, `(Index Scan using|Bitmap Index Scan on) deliveries_merchant_rare\b`, plan,
					"filter %d %+v does not start from the unsettled deliveries:\n%s\n%s", i, f, st.SQL, plan)
				events := `events_pkey`
				if f.CreatedGTE != nil {
					events = `events_(pkey|merchant_type_created)`
				}
				require.Regexp(t, `(Index Scan( Backward)? using|Bitmap Index Scan on) `+events+`\b`, plan,
					"filter %d %+v does not look the events up by id:\n%s\n%s", i, f, st.SQL, plan)
			default:
				require.Regexp(t, `(Index (Only )?Scan( Backward)? using|Bitmap Index Scan on) events_merchant_type_created\b`, plan,
					"filter %d %+v walks events outside the merchant's window:\n%s\n%s", i, f, st.SQL, plan)
			}
		}
	}
}

// A merchant's delivery list stays an index read on a long history (see
// StatusBranches): every shape of filter and cursor, planned generically,
// reads each branch from the index that leads with the merchant or the
// endpoint (the full one, or the rare states'), or an event's few
// deliveries, the queued ones by primary key from the live jobs, and never
// a whole table.
func TestDeliveryListIndexed(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	e := seedHistory(t, pool, svc, m.ID)
	rec.Take()

	seqScan := regexp.MustCompile(`Seq Scan on (deliveries|events)\b`)
	indexRead := regexp.MustCompile(`(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (deliveries_\w+)`)
	for mask := range 1 << 4 {
		var f delivery.DeliveryFilter
		if mask&1 != 0 {
			f.EndpointID = e.ID
		}
		if mask&2 != 0 {
			f.EventID = "evt_5000"
		}
		// No status, or one from each way of finding it: the full index
		// (succeeded), the rare states' (failed), both and the live jobs
		// (pending).
		f.Status = []delivery.Status{"", delivery.StatusSucceeded, delivery.StatusFailed, delivery.StatusPending}[mask>>2]
		// The index each branch must read, in the query's order.
		var want []string
		for _, where := range StatusBranches(f.Status) {
			switch {
			case f.EventID != "":
				want = append(want, `deliveries_event_id_endpoint_id_key`) // an event's few deliveries
			case where == queued:
				want = append(want, `deliveries_pkey`) // one lookup per live job
			case strings.Contains(where, "rare_status"):
				want = append(want, `deliveries_(merchant|endpoint)_rare`)
			default:
				want = append(want, `deliveries_(merchant|endpoint)_created`)
			}
		}
		for _, after := range []string{"", "dlv_5000"} {
			_, _, err := svc.ListDeliveries(ctx, m.ID, f, 10, after)
			require.NoError(t, err)
			for _, st := range rec.Take() {
				plan := pgtest.ExplainGeneric(t, pool, st)
				require.False(t, seqScan.MatchString(plan), "filter %+v after %q reads a whole table:\n%s\n%s", f, after, st.SQL, plan)
				if !strings.Contains(st.SQL, "ORDER BY") {
					continue // the cursor's lookup
				}
				reads := indexRead.FindAllStringSubmatch(plan, -1)
				require.Len(t, reads, len(want), "filter %+v after %q: a branch reads outside its index:\n%s\n%s", f, after, st.SQL, plan)
				for i, r := range reads {
					require.Regexp(t, `^`+want[i]+`$`, r[1], "filter %+v after %q: branch %d reads another index:\n%s\n%s",
						f, after, i, st.SQL, plan)
				}
			}
		}
	}
}

// The orphan sweep reads the live jobs once for all pending deliveries,
// never River's GIN index on args once per delivery (each probe reads the
// index's whole pending list: seconds of database time during an outage,
// when thousands of deliveries wait for their retries), and still finds
// the one delivery whose job is gone.
func TestSweepReadsJobsOnce(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	e := createEndpoint(t, svc, m.ID, "https://hooks.example.com/a", "*")
	for _, sql := range []string{
		`INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_' || i, $1, 'charge.succeeded', now() - i * interval '1 second', '{}' FROM generate_series(1, 5000) i`,
		`INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, attempts, created_at)
			SELECT 'dlv_' || i, $1, 'evt_' || i, $2, 'charge.succeeded', 'pending', 1, now() - i * interval '1 second'
			FROM generate_series(1, 5000) i`,
		// Every delivery but dlv_77 waits for its retry; half the jobs
		// were enqueued again (seq 1) by a redrive.
		`UPDATE deliveries SET job_seq = 1 WHERE id LIKE '%0' AND $1 <> ''`,
		`INSERT INTO river_job (kind, args, queue, state, max_attempts, scheduled_at)
			SELECT 'herald.deliver', CASE WHEN d.job_seq = 0 THEN jsonb_build_object('delivery_id', d.id)
				ELSE jsonb_build_object('delivery_id', d.id, 'seq', d.job_seq) END,
				'delivery', 'scheduled', 25, now() + interval '1 hour'
			FROM deliveries d WHERE d.merchant_id = $1 AND d.id <> 'dlv_77'`,
		`ANALYZE`,
	} {
		_, err := pool.Exec(ctx, sql, []any{m.ID, e.ID}[:strings.Count(sql, "$")]...)
		require.NoError(t, err)
	}
	rec.Take()

	n, err := Sweep(ctx, pool, svc.cfg.Inserter, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n, "dlv_77, and only it")
	var swept bool
	for _, st := range rec.Take() {
		if !strings.Contains(st.SQL, "UPDATE deliveries d SET job_seq") {
			continue
		}
		swept = true
		plan := pgtest.ExplainGeneric(t, pool, st)
		require.NotContains(t, plan, "river_job_args_index", "the sweep probes the args index per delivery:\n%s", plan)
		require.Regexp(t, `(Hash|Merge) Cond: .*delivery_id`, plan, "the sweep does not match jobs to deliveries by id:\n%s", plan)
	}
	require.True(t, swept, "the sweep's statement was recorded")
}

// seedHistory gives merchantID a long history, and returns the endpoint
// it went to: 20,000 events ten seconds apart (evt_1 the newest), each
// with a delivery (dlv_1…; mostly succeeded, some failed, skipped or
// pending a retry), among 20 other merchants' 1,000 events and deliveries
// each, with the tables analyzed. The plan tests stand on it.
func seedHistory(t *testing.T, pool *pgxpool.Pool, svc *Service, merchantID string) *delivery.Endpoint {
	t.Helper()
	ctx := context.Background()
	history := `WITH ev AS (
			INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT 'evt_' || $3 || i, $1, 'charge.succeeded', now() - i * interval '10 seconds', '{}' FROM generate_series(1, $4::int) i
			RETURNING id, created_at)
		INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, attempts, created_at)
		SELECT 'dlv_' || substr(ev.id, 5), $1, ev.id, $2, 'charge.succeeded',
			(ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'failed', 'skipped', 'pending'])[1 + ev.n % 10],
			1, ev.created_at FROM (SELECT id, created_at, row_number() OVER () AS n FROM ev) ev`
	for range 20 {
		other, _ := accounttest.NewMerchant(t, pool, "Other")
		o := createEndpoint(t, svc, other.ID, "https://hooks.example.com/o", "*")
		_, err := pool.Exec(ctx, history, other.ID, o.ID, other.ID, 1000)
		require.NoError(t, err)
	}
	e := createEndpoint(t, svc, merchantID, "https://hooks.example.com/a", "*")
	_, err := pool.Exec(ctx, history, merchantID, e.ID, "", 20000)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE`)
	require.NoError(t, err)
	return e
}

// The live stream's reads are index reads too: its polls, many a second
// per open stream, read only the merchant's newest events.
func TestFeedIndexed(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	rec, pool, svc, m := newRecordedService(t)
	var err error
	for i := range 20 {
		other, _ := accounttest.NewMerchant(t, pool, "Other")
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
		require.Regexp(t, `Index (Only )?Scan( Backward)? using (events_merchant_seq|events_pkey)`, plan, "%s\n%s", st.SQL, plan)
	}
}

// The typed statuses are exactly the values the schema accepts: a status
// added on one side only fails here.
func TestStatusesMatchSchema(t *testing.T) {
	t.Parallel()

	pool := pgtest.NewPool(t)
	pgtest.RequireCheckValues(t, pool, "deliveries", "status", delivery.Statuses...)
	pgtest.RequireCheckValues(t, pool, "webhook_endpoints", "status", delivery.EndpointEnabled, delivery.EndpointDisabled)
	pgtest.RequireCheckValues(t, pool, "webhook_endpoints", "breaker_state", delivery.BreakerClosed, delivery.BreakerOpen,
		delivery.BreakerHalfOpen)
	pgtest.RequireCheckValues(t, pool, "redrives", "status", delivery.RedriveQueued, delivery.RedriveRunning,
		delivery.RedriveCompleted, delivery.RedriveCanceled)
	pgtest.RequireCheckValues(t, pool, "delivery_attempts", "trigger", delivery.TriggerInitial, delivery.TriggerRetry,
		delivery.TriggerRedrive)
}
