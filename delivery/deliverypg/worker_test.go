package deliverypg

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

// An endpoint that answers 500 to some events (it cannot handle them) while
// accepting the others keeps getting the good ones at once: its breaker
// stays closed. An endpoint that is really down still trips its breaker.
func TestPoisonMessagesDoNotStallAnEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *testConfig) {
		c.worker.Policy.Retry.Schedule = []time.Duration{20 * time.Millisecond, 50 * time.Millisecond, time.Hour}
	})
	m := b.merchant(t, "Acme")
	// The endpoint refuses charge.failed events (its handler crashes on
	// them) and accepts everything else.
	picky := newSink(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), webhook.TypeChargeFailed) {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	ep := b.endpoint(t, m, hookURL(picky), "*")

	for range 30 {
		b.publish(t, m, webhook.TypeChargeFailed)
	}
	// Each poison event is tried three times: 90 failures.
	waitFor(t, 30*time.Second, "three attempts of each poison event", func() bool {
		return len(picky.OfType(webhook.TypeChargeFailed)) >= 90
	})
	e, err := b.svc.FindEndpoint(context.Background(), m, ep.ID)
	require.NoError(t, err)
	require.Equal(t, delivery.BreakerClosed, e.BreakerState)

	start := time.Now()
	good := b.publish(t, m, webhook.TypeCheckoutSessionCompleted)
	reqs := picky.WaitType(t, webhook.TypeCheckoutSessionCompleted, 1)
	require.Equal(t, good, reqs[0].Event.ID)
	require.Less(t, reqs[0].At.Sub(start), time.Second, "the good event goes at once")
	require.Zero(t, b.metric(t, "herald_delivery_snoozes_total", "reason", "breaker_open"))

	// A down endpoint (nothing listens) trips the breaker after five
	// failures; the deliveries behind it wait without spending attempts,
	// and say so.
	down := b.endpoint(t, m, closedURL(t), webhook.TypeCheckoutSessionExpired)
	for range 8 {
		b.publish(t, m, webhook.TypeCheckoutSessionExpired)
	}
	waitFor(t, 20*time.Second, "the breaker to open", func() bool {
		e, err := b.svc.FindEndpoint(context.Background(), m, down.ID)
		require.NoError(t, err)
		return e.BreakerState == delivery.BreakerOpen
	})
	// An event published once the breaker is open: its delivery is never
	// attempted. (The eight before may all have been tried at once, before
	// the fifth failure opened it.)
	late := b.publish(t, m, webhook.TypeCheckoutSessionExpired)
	waitFor(t, 20*time.Second, "the late delivery held by the breaker", func() bool {
		list := b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: down.ID, EventID: late})
		if len(list) != 1 {
			return false
		}
		d := list[0]
		return d.HeldReason == delivery.HoldBreakerOpen && d.NextAttemptAt != nil &&
			d.NextAttemptAt.After(time.Now().Add(50*time.Minute)) // the breaker opens for an hour in this test
	})
	d := b.deliveries(t, m, delivery.DeliveryFilter{EndpointID: down.ID, EventID: late})[0]
	require.Zero(t, d.Attempts, "no attempt spent while the breaker is open")
	waitFor(t, 10*time.Second, "breaker snoozes", func() bool {
		return b.metric(t, "herald_delivery_snoozes_total", "reason", "breaker_open") > 0
	})
	// Put off before its first attempt, it has left the hot path: an
	// outage's backlog is in the rare states' index, and listed once.
	waitFor(t, 10*time.Second, "the late delivery marked put off", func() bool {
		rare := rareStatus(t, b.pool, d.ID)
		return rare != nil && *rare == string(delivery.StatusPending)
	})
	// (The late event's delivery to picky, which takes every type, may be
	// pending for a moment too: only down's is asked for.)
	require.Len(t, b.deliveries(t, m, delivery.DeliveryFilter{Status: delivery.StatusPending, EndpointID: down.ID, EventID: late}), 1)
}

// closedURL is a loopback URL where nothing listens: connections are
// refused.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr + "/hooks"
}

// One merchant with many slow endpoints holds at most its own in-flight
// cap of the workers: the other merchants' deliveries go at once.
func TestMerchantInflightCap(t *testing.T) {
	t.Parallel()
	const perMerchant = 4
	b := setup(t, func(c *testConfig) {
		c.workers = 12
		c.worker.InflightPerEndpoint = 10
		c.worker.InflightPerMerchant = perMerchant
		c.worker.AttemptTimeout = 10 * time.Second
	})
	release := make(chan struct{})
	var inflight, peak atomic.Int32
	slow := func(_ int, w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		inflight.Add(-1)
		w.WriteHeader(http.StatusOK)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	noisy, quiet := b.merchant(t, "Noisy"), b.merchant(t, "Quiet")
	for range 6 {
		b.endpoint(t, noisy, hookURL(newSink(t, slow)), "*")
	}
	healthy := newSink(t, nil)
	b.endpoint(t, quiet, hookURL(healthy), "*")

	for range 5 {
		b.publish(t, noisy, webhook.TypeChargeSucceeded) // 30 deliveries, 6 endpoints
	}
	waitFor(t, 10*time.Second, "the noisy merchant's cap to fill", func() bool { return inflight.Load() == perMerchant })
	start := time.Now()
	evt := b.publish(t, quiet, webhook.TypeChargeSucceeded)
	reqs := healthy.WaitType(t, webhook.TypeChargeSucceeded, 1)
	require.Equal(t, evt, reqs[0].Event.ID)
	require.Less(t, reqs[0].At.Sub(start), 2*time.Second, "the quiet merchant is not starved")
	require.Equal(t, int32(perMerchant), peak.Load(), "never more than the cap at once")
	waitFor(t, 10*time.Second, "snoozes at the merchant cap", func() bool {
		return b.metric(t, "herald_delivery_snoozes_total", "reason", "merchant_inflight_cap") > 0
	})
	once.Do(func() { close(release) })
	b.waitDeliveries(t, noisy, delivery.DeliveryFilter{Status: delivery.StatusSucceeded}, 30)
	require.Equal(t, int32(perMerchant), peak.Load())
}

// A job that read its delivery before this process disabled the endpoint
// gets no slot and is told to read again, however free the endpoint is; a
// read after the disabling gets its slot, and other endpoints are not
// concerned. A disabling is forgotten a minute later, so the memory does
// not grow.
func TestInflightAfterADisabling(t *testing.T) {
	t.Parallel()
	f := newInflight(1, 10)
	at := time.Now()
	f.endpointDisabled("we_gone", at)

	require.Equal(t, staleTarget, f.acquire("we_gone", "acct_a", at.Add(-time.Millisecond)))
	require.Equal(t, staleTarget, f.acquire("we_gone", "acct_a", at))
	require.Empty(t, f.acquire("we_other", "acct_a", at.Add(-time.Millisecond)))
	require.Empty(t, f.acquire("we_gone", "acct_a", at.Add(time.Millisecond)), "a read after the disabling")
	require.Equal(t, snoozeInflightCap, f.acquire("we_gone", "acct_a", at.Add(time.Millisecond)),
		"the stale reads took no slot: the endpoint's one went to the fresh read")

	f.endpointDisabled("we_later", at.Add(2*disabledMemory))
	require.NotContains(t, f.disabled, "we_gone")
	require.Contains(t, f.disabled, "we_later")
}
