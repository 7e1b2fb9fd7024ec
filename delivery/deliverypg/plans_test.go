package deliverypg

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/webhook"
)

// newRecordedService is a delivery service whose pool records every
// statement (rec), with one merchant (m), for the EXPLAIN tests.
func newRecordedService(t *testing.T) (*pgtest.Recorder, *pgxpool.Pool, *Service, account.Merchant) {
	t.Helper()
	rec := &pgtest.Recorder{}
	pool := pgtest.NewRecordingPool(t, rec)
	box, err := seal.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	svc := NewService(pool, Config{Box: box, Inserter: inserter})
	m, _, err := accountpg.NewStore(pool).Create(context.Background(), account.Merchant{Name: "Acme"})
	require.NoError(t, err)
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
	var err error
	url := "https://hooks.example.com/a"
	e, err := svc.CreateEndpoint(ctx, m.ID, delivery.EndpointParams{URL: &url, EnabledEvents: []string{"*"}})
	require.NoError(t, err)
	var eventIDs []string
	for range 3 {
		ev, err := webhook.NewEvent(id.New("evt"), webhook.TypeCheckoutSessionCompleted, time.Now().Unix(), map[string]string{"object": "test"})
		require.NoError(t, err)
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return svc.PublishTx(ctx, tx, m.ID, ev) }))
		eventIDs = append(eventIDs, ev.ID)
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
