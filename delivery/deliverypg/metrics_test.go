package deliverypg

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/pgtest"
)

// idleArgs is a job nobody works: it only sits in a queue.
type idleArgs struct{}

func (idleArgs) Kind() string { return "test.idle" }

// gathered reads reg as `name{label="value",…}` → value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}

// names lists the families in a gathered map that start with prefix.
func names(metrics map[string]float64, prefixes ...string) []string {
	var out []string
	for k := range metrics {
		name, _, _ := strings.Cut(k, "{")
		for _, p := range prefixes {
			if name == p && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// clusterGauges are the families read from the database.
var clusterGauges = []string{"herald_deliveries", "herald_endpoints", "herald_queue_jobs", "herald_queue_oldest_job_age_seconds"}

// workingClient starts a River client that works the default queue, so
// that it takes part in River's leader election.
func workingClient(t *testing.T, pool *pgxpool.Pool) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[idleArgs]) error { return nil }))
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workers: workers,
		Queues:  map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 1}},
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, client.Stop(ctx))
	})
	return client
}

// leaderID waits until River has elected a leader and returns its id.
func leaderID(t *testing.T, pool *pgxpool.Pool, not string) string {
	t.Helper()
	var id string
	waitFor(t, 30*time.Second, "a River leader", func() bool {
		err := pool.QueryRow(context.Background(), `SELECT leader_id FROM river_leader WHERE expires_at > now()`).Scan(&id)
		return err == nil && id != not
	})
	return id
}

// The gauges read from the database describe the whole cluster, so only
// River's leader exports them (a sum() over processes counts each row
// once); every process says whether it is the leader; and when the leader
// stops, the gauges move to the new one.
func TestClusterGaugesFromLeaderOnly(t *testing.T) {
	t.Parallel()

	pool := pgtest.NewPool(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	newMetrics := func(l Leadership) *prometheus.Registry {
		reg := prometheus.NewRegistry()
		NewMetrics(reg, pool, delivery.NewBreakers(delivery.BreakerSettings{}), logger).SetLeadership(l)
		return reg
	}
	a, b := workingClient(t, pool), workingClient(t, pool)
	regs := map[string]*prometheus.Registry{
		a.ID(): newMetrics(RiverLeadership(pool, a.ID())),
		b.ID(): newMetrics(RiverLeadership(pool, b.ID())),
	}
	api := newMetrics(NotLeader)

	first := leaderID(t, pool, "")
	for id, reg := range regs {
		m := gathered(t, reg)
		if id == first {
			require.Equal(t, 1.0, m["herald_leader{}"])
			require.Equal(t, clusterGauges, names(m, clusterGauges...), "the leader exports the cluster's gauges")
			require.Contains(t, m, `herald_queue_oldest_job_age_seconds{queue="delivery"}`)
			continue
		}
		require.Equal(t, 0.0, m["herald_leader{}"])
		require.Empty(t, names(m, clusterGauges...), "a follower exports none of them")
	}
	m := gathered(t, api)
	require.Equal(t, map[string]float64{"herald_leader{}": 0}, onlyDB(m), "a process without workers is never the leader")

	// Stopping the leader resigns its leadership; the other takes over.
	leader, follower := a, b
	if first == b.ID() {
		leader, follower = b, a
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, leader.Stop(stopCtx))
	require.Equal(t, follower.ID(), leaderID(t, pool, first))
	waitFor(t, 20*time.Second, "the new leader to export the gauges (after its 5 s cache)", func() bool {
		m := gathered(t, regs[follower.ID()])
		return m["herald_leader{}"] == 1 && len(names(m, clusterGauges...)) == len(clusterGauges)
	})
}

// onlyDB keeps the families the database collector exports.
func onlyDB(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		name, _, _ := strings.Cut(k, "{")
		if name == "herald_leader" || slices.Contains(clusterGauges, name) {
			out[k] = v
		}
	}
	return out
}

// The oldest job age is how long a queue's oldest due job has waited:
// available jobs and retryable or scheduled ones whose time has come count,
// future ones and running ones do not; a queue with nothing waiting is 0.
func TestOldestJobAge(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	insert := func(queue, state string, dueIn time.Duration) {
		t.Helper()
		res, err := inserter.Insert(ctx, idleArgs{}, &river.InsertOpts{Queue: queue})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `UPDATE river_job SET state = $2, scheduled_at = now() + make_interval(secs => $3) WHERE id = $1`,
			res.Job.ID, state, dueIn.Seconds())
		require.NoError(t, err)
	}
	insert(QueueDelivery, "available", -90*time.Second)
	insert(QueueDelivery, "retryable", -30*time.Second)
	insert(QueueDelivery, "running", -time.Hour)         // being worked: not waiting
	insert(river.QueueDefault, "scheduled", time.Hour)   // not due yet
	insert(river.QueueDefault, "retryable", time.Minute) // not due yet
	insert("someone_elses", "available", -time.Hour)     // not Herald's queue

	reg := prometheus.NewRegistry()
	NewMetrics(reg, pool, delivery.NewBreakers(delivery.BreakerSettings{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	m := gathered(t, reg)
	require.InDelta(t, 90, m[`herald_queue_oldest_job_age_seconds{queue="delivery"}`], 5)
	require.Contains(t, m, `herald_queue_oldest_job_age_seconds{queue="default"}`)
	require.Equal(t, 0.0, m[`herald_queue_oldest_job_age_seconds{queue="default"}`])
	require.NotContains(t, m, `herald_queue_oldest_job_age_seconds{queue="someone_elses"}`)
	require.Equal(t, 1.0, m["herald_leader{}"], "without leadership a process exports as if alone")

	_, err = pool.Exec(ctx, `UPDATE river_job SET scheduled_at = now() - interval '10 minutes' WHERE state = 'scheduled'`)
	require.NoError(t, err)
	reg = prometheus.NewRegistry()
	NewMetrics(reg, pool, delivery.NewBreakers(delivery.BreakerSettings{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.InDelta(t, 600, gathered(t, reg)[`herald_queue_oldest_job_age_seconds{queue="default"}`], 5,
		"a scheduled job past its time waits like an available one")
}
