package deliverypg

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/webhook"
)

// fastFailing makes a delivery fail for good after two attempts 10 ms
// apart, so that tests reach failed deliveries at once.
func fastFailing(c *testConfig) {
	c.worker.Policy.Retry = delivery.RetryPolicy{Schedule: []time.Duration{10 * time.Millisecond}}
	c.noClient = true // startClient runs River instead
}

// startClient runs River for b (set up with noClient) like setup does, but
// with a redrive worker that handles batchSize deliveries per transaction.
func startClient(t *testing.T, b *testBundle, batchSize int) {
	t.Helper()
	redrive := NewRedriveWorker(b.pool, nil)
	redrive.batchSize = batchSize
	workers := river.NewWorkers()
	river.AddWorker(workers, b.worker)
	river.AddWorker(workers, redrive)
	client, err := river.NewClient(riverpgxv5.New(b.pool), &river.Config{
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}, QueueDelivery: {MaxWorkers: 20}},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		JobTimeout:        b.worker.Timeout(nil),
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(stopCtx))
	})
}

// failedDeliveries publishes n events for merchantID's endpoint, whose sink
// answers 500, and waits until each delivery has failed for good.
func (b *testBundle) failedDeliveries(t *testing.T, merchantID, endpointID string, n int) []*delivery.Delivery {
	t.Helper()
	for range n {
		b.publish(t, merchantID, webhook.TypeChargeSucceeded)
	}
	return b.waitDeliveries(t, merchantID, delivery.DeliveryFilter{EndpointID: endpointID, Status: delivery.StatusFailed}, n)
}

// waitRedrive waits until a bulk redrive is over and returns it.
func (b *testBundle) waitRedrive(t *testing.T, merchantID, redriveID string) *delivery.Redrive {
	t.Helper()
	var r *delivery.Redrive
	waitFor(t, 20*time.Second, "the redrive to finish", func() bool {
		var err error
		r, err = b.svc.FindRedrive(context.Background(), merchantID, redriveID)
		require.NoError(t, err)
		return r.Status == delivery.RedriveCompleted || r.Status == delivery.RedriveCanceled
	})
	return r
}

// deliveryRow is what a redrive changes in a delivery's row.
type deliveryRow struct {
	Status   string
	Attempts int
	JobSeq   int
	LiveJobs int
}

func (b *testBundle) deliveryRows(t *testing.T, merchantID string) map[string]deliveryRow {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT d.id, d.status, d.attempts, d.job_seq,
		(SELECT count(*) FROM river_job j WHERE j.kind = 'herald.deliver' AND j.args->>'delivery_id' = d.id
			AND j.state NOT IN ('completed', 'cancelled', 'discarded'))
		FROM deliveries d WHERE d.merchant_id = $1`, merchantID)
	require.NoError(t, err)
	out := map[string]deliveryRow{}
	for rows.Next() {
		var id string
		var r deliveryRow
		require.NoError(t, rows.Scan(&id, &r.Status, &r.Attempts, &r.JobSeq, &r.LiveJobs))
		out[id] = r
	}
	require.NoError(t, rows.Err())
	return out
}

// A bulk redrive of one merchant's failed deliveries sends every one of
// them again, across as many batches as it takes, says so in its progress,
// and leaves another merchant's matching deliveries exactly as they were.
func TestBulkRedriveAllMatchesOfOneMerchant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, fastFailing)
	// Two deliveries per transaction: five deliveries take three batches,
	// the last one short.
	startClient(t, b, 2)
	ma, mb := b.merchant(t, "A"), b.merchant(t, "B")
	sa, sb := newSink(t, answer(http.StatusInternalServerError)), newSink(t, answer(http.StatusInternalServerError))
	ea, eb := b.endpoint(t, ma, hookURL(sa), webhook.TypeChargeSucceeded), b.endpoint(t, mb, hookURL(sb), webhook.TypeChargeSucceeded)
	failedA := b.failedDeliveries(t, ma, ea.ID, 5)
	b.failedDeliveries(t, mb, eb.ID, 3)
	waitFor(t, 10*time.Second, "every attempt made", func() bool { return len(sa.Requests()) == 10 && len(sb.Requests()) == 6 })
	// River finalizes a job a moment after its delivery failed.
	var before map[string]deliveryRow
	waitFor(t, 10*time.Second, "B's jobs to be finalized", func() bool {
		before = b.deliveryRows(t, mb)
		for _, r := range before {
			if r.LiveJobs > 0 {
				return false
			}
		}
		return true
	})
	require.Len(t, before, 3)

	dry, err := b.svc.CreateRedrive(ctx, ma, delivery.RedriveParams{Status: delivery.StatusFailed, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, 5, dry.Matched, "a dry run counts the merchant's own deliveries only")

	sa.SetHandler(nil) // A's endpoint is fixed
	r, err := b.svc.CreateRedrive(ctx, ma, delivery.RedriveParams{Status: delivery.StatusFailed})
	require.NoError(t, err)
	require.Equal(t, 5, r.Matched)
	r = b.waitRedrive(t, ma, r.ID)
	require.Equal(t, delivery.RedriveCompleted, r.Status)
	require.Equal(t, 5, r.Matched)
	require.Equal(t, 5, r.Enqueued, "every match enqueued, not only the first batch")
	require.NotNil(t, r.Completed)

	// B's rows are untouched the moment A's redrive is over.
	require.Equal(t, before, b.deliveryRows(t, mb), "another merchant's deliveries are not redriven")

	done := b.waitDeliveries(t, ma, delivery.DeliveryFilter{EndpointID: ea.ID, Status: delivery.StatusSucceeded}, 5)
	require.ElementsMatch(t, ids(failedA), ids(done))
	for _, d := range done {
		full, err := b.svc.FindDelivery(ctx, ma, d.ID)
		require.NoError(t, err)
		require.Len(t, full.AttemptLog, 3)
		require.Equal(t, delivery.TriggerRedrive, full.AttemptLog[2].Trigger)
	}
	require.Len(t, sa.Requests(), 15, "each of A's five events sent once more")
	require.Len(t, sb.Requests(), 6, "B's endpoint heard nothing more")
	require.Equal(t, before, b.deliveryRows(t, mb))

	// Redriving again finds them succeeded, not failed: nothing matches.
	again, err := b.svc.CreateRedrive(ctx, ma, delivery.RedriveParams{Status: delivery.StatusFailed})
	require.NoError(t, err)
	require.Zero(t, again.Matched)
	again = b.waitRedrive(t, ma, again.ID)
	require.Equal(t, delivery.RedriveCompleted, again.Status)
	require.Zero(t, again.Enqueued)
}

// A redrive, single or bulk, gives a failed delivery a fresh set of
// attempts: the full schedule again, counted from the redrive, not what
// was left of the first set (nothing).
func TestRedriveGivesFreshAttempts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		redrive func(t *testing.T, b *testBundle, merchantID string, d *delivery.Delivery)
	}{
		{"Single", func(t *testing.T, b *testBundle, merchantID string, d *delivery.Delivery) {
			_, err := b.svc.RedriveDelivery(context.Background(), merchantID, d.ID)
			require.NoError(t, err)
		}},
		{"Bulk", func(t *testing.T, b *testBundle, merchantID string, d *delivery.Delivery) {
			r, err := b.svc.CreateRedrive(context.Background(), merchantID, delivery.RedriveParams{Status: delivery.StatusFailed})
			require.NoError(t, err)
			require.Equal(t, 1, b.waitRedrive(t, merchantID, r.ID).Enqueued)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, fastFailing)
			startClient(t, b, redriveBatch)
			m := b.merchant(t, "Acme")
			s := newSink(t, answer(http.StatusInternalServerError))
			ep := b.endpoint(t, m, hookURL(s), webhook.TypeChargeSucceeded)
			d := b.failedDeliveries(t, m, ep.ID, 1)[0]
			require.Equal(t, 2, d.Attempts, "two attempts, then failed")

			tt.redrive(t, b, m, d)
			var got *delivery.Delivery
			waitFor(t, 20*time.Second, "the redriven delivery to fail again", func() bool {
				var err error
				got, err = b.svc.FindDelivery(ctx, m, d.ID)
				require.NoError(t, err)
				return got.Status == delivery.StatusFailed && got.Attempts > 2
			})
			require.Equal(t, 4, got.Attempts, "two more attempts after the redrive")
			var triggers []string
			for _, a := range got.AttemptLog {
				triggers = append(triggers, a.Trigger)
			}
			require.Equal(t, []string{delivery.TriggerInitial, delivery.TriggerRetry, delivery.TriggerRedrive,
				delivery.TriggerRetry}, triggers)
			require.Len(t, s.Requests(), 4)
		})
	}
}

func ids(list []*delivery.Delivery) []string {
	out := make([]string, len(list))
	for i, d := range list {
		out[i] = d.ID
	}
	return out
}

// failingEndpoint is a running bundle with one merchant, Acme, and one
// endpoint of it on a sink that answers 500 until told otherwise.
func failingEndpoint(t *testing.T) (*testBundle, string, *sinktest.Sink, *delivery.Endpoint) {
	t.Helper()
	b := setup(t)
	m := b.merchant(t, "Acme")
	s := newSink(t, answer(http.StatusInternalServerError))
	return b, m, s, b.endpoint(t, m, hookURL(s), "*")
}

// A pending delivery whose job is gone — deleted by hand in River UI, or
// discarded after River's own attempts ran out — is found by the sweeper
// and enqueued again, keeping its scheduled time; deliveries that have a
// live job, or are held, are left alone. Until then a single redrive can
// reach it too.
func TestSweepRequeuesOrphans(t *testing.T) {
	t.Parallel()
	b, m, s, ep := failingEndpoint(t)
	ctx := context.Background()

	// Three deliveries each fail once and wait an hour for their retry.
	for range 3 {
		b.publish(t, m, webhook.TypeChargeSucceeded)
	}
	list := b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: ep.ID}, 3)
	waitFor(t, 10*time.Second, "three first attempts", func() bool { return len(s.Requests()) == 3 })
	waitFor(t, 10*time.Second, "three scheduled retries", func() bool {
		n := 0
		for _, d := range list {
			n += b.jobs(t, d.ID)["scheduled"]
		}
		return n == 3
	})
	deleted, discarded, kept := list[0].ID, list[1].ID, list[2].ID
	_, err := b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, deleted)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE args->>'delivery_id' = $1`, discarded)
	require.NoError(t, err)
	// A held delivery (paused endpoint) has no job on purpose.
	pausedEP := b.endpoint(t, m, hookURL(newSink(t, nil)), webhook.TypeCheckoutSessionExpired)
	b.update(t, m, pausedEP.ID, delivery.EndpointParams{Paused: ptr(true)})
	b.publish(t, m, webhook.TypeCheckoutSessionExpired)

	n, err := Sweep(ctx, b.pool, b.client, 100)
	require.NoError(t, err)
	require.Equal(t, 2, n, "the deleted and the discarded one")
	for _, orphan := range []string{deleted, discarded} {
		d, err := b.svc.FindDelivery(ctx, m, orphan)
		require.NoError(t, err)
		require.Equal(t, delivery.StatusPending, d.Status)
		require.Equal(t, 1, b.jobs(t, orphan)["scheduled"], "a new job, at the retry's time")
	}
	require.Equal(t, map[string]int{"scheduled": 1}, b.jobs(t, kept), "untouched")
	n, err = Sweep(ctx, b.pool, b.client, 100)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to sweep")

	// The sweeper job itself reports what it found.
	_, err = b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, kept)
	require.NoError(t, err)
	_, err = b.client.Insert(ctx, SweepArgs{}, nil)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the sweep job", func() bool { return b.metric(t, "herald_deliveries_orphaned_total") == 1 })
	require.Contains(t, b.logs.String(), `level=WARN msg="re-enqueued orphaned deliveries" count=1`)
}

// A single redrive reaches an orphan at once (a pending delivery with no
// live job), but leaves alone a pending delivery whose job is on its way:
// no delivery is ever attempted twice at the same time.
func TestRedriveReachesOrphans(t *testing.T) {
	t.Parallel()
	b, m, s, ep := failingEndpoint(t)
	ctx := context.Background()
	b.publish(t, m, webhook.TypeChargeSucceeded)
	d := b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: ep.ID}, 1)[0]
	waitFor(t, 10*time.Second, "the retry to be scheduled", func() bool { return b.jobs(t, d.ID)["scheduled"] == 1 })

	got, err := b.svc.RedriveDelivery(ctx, m, d.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"scheduled": 1}, b.jobs(t, d.ID), "on its way: left alone")
	require.Equal(t, 1, got.Attempts)

	_, err = b.pool.Exec(ctx, `DELETE FROM river_job WHERE args->>'delivery_id' = $1`, d.ID)
	require.NoError(t, err)
	s.SetHandler(nil)
	_, err = b.svc.RedriveDelivery(ctx, m, d.ID)
	require.NoError(t, err)
	b.waitDeliveries(t, m, delivery.DeliveryFilter{EndpointID: ep.ID, Status: delivery.StatusSucceeded}, 1)
	full, err := b.svc.FindDelivery(ctx, m, d.ID)
	require.NoError(t, err)
	require.Len(t, full.AttemptLog, 2)
	require.Equal(t, delivery.TriggerRedrive, full.AttemptLog[1].Trigger)
}
