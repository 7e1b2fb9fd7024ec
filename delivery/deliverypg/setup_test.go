package deliverypg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverynet"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/internal/syncbuf"
	"github.com/heraldpay/herald/webhook"
)

// testBundle is a delivery engine on its own database: the service, a
// running River client working the delivery queue with the real worker
// and sender, and helpers to publish events and read what happened.
type testBundle struct {
	pool     *pgxpool.Pool
	svc      *Service
	worker   *DeliverWorker
	client   *river.Client[pgx.Tx]
	breakers *delivery.Breakers
	reg      *prometheus.Registry
	logs     *syncbuf.Buffer
}

// testConfig tunes setup.
type testConfig struct {
	worker WorkerConfig
	// workers is the delivery queue's MaxWorkers.
	workers int
	// noClient leaves River stopped: the test drives jobs itself.
	noClient bool
}

// testKey is the key the tests' services seal endpoint secrets under.
var testKey = bytes.Repeat([]byte{7}, 32)

// testBox seals under testKey.
func testBox(t *testing.T) *seal.Box {
	t.Helper()
	box, err := seal.New(testKey)
	require.NoError(t, err)
	return box
}

// newService is a delivery service on pool that only inserts jobs (no
// River client works them), with one merchant, Acme.
func newService(t *testing.T, pool *pgxpool.Pool) (*Service, account.Merchant) {
	t.Helper()
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	svc := NewService(pool, Config{Box: testBox(t), Inserter: inserter})
	m, _ := accounttest.NewMerchant(t, pool, "Acme")
	return svc, m
}

func setup(t *testing.T, mutate ...func(*testConfig)) *testBundle {
	t.Helper()
	cfg := testConfig{workers: 50, worker: WorkerConfig{
		Policy:         delivery.Policy{Retry: delivery.RetryPolicy{Schedule: []time.Duration{time.Hour}}},
		AttemptTimeout: 2 * time.Second,
	}}
	for _, m := range mutate {
		m(&cfg)
	}
	ctx := context.Background()
	b := &testBundle{pool: pgtest.NewPool(t), reg: prometheus.NewRegistry(), logs: &syncbuf.Buffer{}}
	logger := slog.New(slog.NewTextHandler(b.logs, nil))
	box := testBox(t)
	inserter, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{SkipUnknownJobCheck: true, FetchCooldown: 10 * time.Millisecond})
	require.NoError(t, err)
	b.breakers = delivery.NewBreakers(delivery.BreakerSettings{OpenFor: time.Hour})
	metrics := NewMetrics(b.reg, b.pool, b.breakers, logger)
	b.svc = NewService(b.pool, Config{Box: box, Inserter: inserter, Metrics: metrics, Logger: logger})

	sender := deliverynet.NewSender(deliverynet.Config{
		Timeout: cfg.worker.AttemptTimeout,
		Guard:   deliverynet.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}),
	})
	t.Cleanup(sender.Close)
	wc := cfg.worker
	wc.Sender, wc.Breakers, wc.Box, wc.Inserter, wc.Metrics, wc.Logger = sender, b.breakers, box, inserter, metrics, logger
	b.worker = NewDeliverWorker(b.pool, wc)

	workers := river.NewWorkers()
	river.AddWorker(workers, b.worker)
	river.AddWorker(workers, NewRedriveWorker(b.pool, nil))
	river.AddWorker(workers, NewSweepWorker(b.pool, metrics, logger))
	b.client, err = river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}, QueueDelivery: {MaxWorkers: cfg.workers}},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		JobTimeout:        b.worker.Timeout(nil),
	})
	require.NoError(t, err)

	bg, stopBackground := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { b.worker.Run(bg) })
	wg.Go(func() { PersistBreakers(bg, b.pool, b.breakers, 50*time.Millisecond, logger) })
	if !cfg.noClient {
		require.NoError(t, b.client.Start(ctx))
	}
	t.Cleanup(func() {
		if !cfg.noClient {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			require.NoError(t, b.client.Stop(stopCtx))
		}
		stopBackground()
		wg.Wait()
	})
	return b
}

func (b *testBundle) merchant(t *testing.T, name string) string {
	t.Helper()
	m, _ := accounttest.NewMerchant(t, b.pool, name)
	return m.ID
}

// endpoint creates an endpoint of merchantID on url for events.
func (b *testBundle) endpoint(t *testing.T, merchantID, url string, events ...string) *delivery.Endpoint {
	t.Helper()
	return createEndpoint(t, b.svc, merchantID, url, events...)
}

// createEndpoint creates an endpoint of merchantID on url for events
// through svc.
func createEndpoint(t *testing.T, svc *Service, merchantID, url string, events ...string) *delivery.Endpoint {
	t.Helper()
	e, err := svc.CreateEndpoint(context.Background(), merchantID, delivery.EndpointParams{URL: &url, EnabledEvents: events})
	require.NoError(t, err)
	return e
}

// update applies p to an endpoint through the service, as the API does.
func (b *testBundle) update(t *testing.T, merchantID, endpointID string, p delivery.EndpointParams) *delivery.Endpoint {
	t.Helper()
	e, err := b.svc.UpdateEndpoint(context.Background(), merchantID, endpointID, p)
	require.NoError(t, err)
	return e
}

// publish commits one event of type typ for merchantID and returns its id.
func (b *testBundle) publish(t *testing.T, merchantID, typ string) string {
	t.Helper()
	return publishEvent(t, b.pool, b.svc, merchantID, typ, time.Now())
}

// publishEvent commits one event of type typ, created at at, for
// merchantID through svc and returns its id.
func publishEvent(t *testing.T, pool *pgxpool.Pool, svc *Service, merchantID, typ string, at time.Time) string {
	t.Helper()
	ev, err := webhook.NewEvent(id.New("evt"), typ, at.Unix(), map[string]string{"object": "test"})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return svc.PublishTx(ctx, tx, merchantID, ev) }))
	return ev.ID
}

// deliveries lists a merchant's deliveries matching f, newest first.
func (b *testBundle) deliveries(t *testing.T, merchantID string, f delivery.DeliveryFilter) []*delivery.Delivery {
	t.Helper()
	list, _, err := b.svc.ListDeliveries(context.Background(), merchantID, f, 100, "")
	require.NoError(t, err)
	return list
}

// waitDeliveries waits until n of a merchant's deliveries match f.
func (b *testBundle) waitDeliveries(t *testing.T, merchantID string, f delivery.DeliveryFilter, n int) []*delivery.Delivery {
	t.Helper()
	var list []*delivery.Delivery
	waitFor(t, 20*time.Second, fmt.Sprintf("%d %q deliveries", n, f.Status), func() bool {
		list = b.deliveries(t, merchantID, f)
		return len(list) >= n
	})
	return list
}

// jobs counts the River jobs of a delivery, by state.
func (b *testBundle) jobs(t *testing.T, deliveryID string) map[string]int {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT state::text, count(*) FROM river_job
		WHERE kind = 'herald.deliver' AND args->>'delivery_id' = $1 GROUP BY 1`, deliveryID)
	require.NoError(t, err)
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		require.NoError(t, rows.Scan(&state, &n))
		out[state] = n
	}
	require.NoError(t, rows.Err())
	return out
}

// metric reads a counter or gauge of the bundle's registry by its name and
// label name, value pairs.
func (b *testBundle) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := b.reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

// newSink starts a merchant's endpoint on 127.0.0.1 answering with h (200
// when nil); its hooks live at hookURL.
func newSink(t *testing.T, h sinktest.Handler) *sinktest.Sink { return sinktest.New(t, h) }

// hookURL is where s takes webhooks.
func hookURL(s *sinktest.Sink) string { return s.URL + "/hooks" }

// answer is sinktest.Answer.
var answer = sinktest.Answer

// waitFor is sinktest.WaitFor.
var waitFor = sinktest.WaitFor

// object decodes an event's data.object.
func object(t *testing.T, ev webhook.Event) map[string]any {
	t.Helper()
	var obj map[string]any
	require.NoError(t, json.Unmarshal(ev.Data.Object, &obj))
	return obj
}

func ptr[T any](v T) *T { return &v }
