// Package servicetest wires Herald's real services on a test database, as
// herald serve does, for the tests of what sits on top of them: the hosted
// pages, the dashboard and the API routes. (The services' own packages
// cannot use it: their tests would import themselves.)
package servicetest

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/checkout/checkoutpg"
	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/seal"
)

// Services are the account store, the delivery service (publisher of
// events, with an encryption key of the tests) and the checkout service on
// the test acquirer, sharing one River inserter. No River worker runs: jobs
// stay where they were enqueued.
type Services struct {
	Pool     *pgxpool.Pool
	Inserter *river.Client[pgx.Tx]
	Accounts *accountpg.Store
	Delivery *deliverypg.Service
	Checkout *checkoutpg.Service
}

// New wires the services on pool, logging to logger (nowhere when nil),
// with the fraud blocklist seeded. The checkout service (its sessions'
// expiry, charges and fraud windows) runs on the clock now, time.Now when
// nil; events take their times from time.Now.
// The checkout service's side pool closes with the test.
func New(t testing.TB, pool *pgxpool.Pool, now func() time.Time, logger *slog.Logger) *Services {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	must(t, err)
	box, err := seal.New(bytes.Repeat([]byte{3}, 32))
	must(t, err)
	s := &Services{Pool: pool, Inserter: inserter, Accounts: accountpg.NewStore(pool),
		Delivery: deliverypg.NewService(pool, deliverypg.Config{Box: box, Inserter: inserter, Logger: logger})}
	// The side pool, on the same database, as the server wires it: the
	// acquirer's ledger and the charge bookkeeping outside the payment's
	// transaction.
	side, err := pgxpool.New(context.Background(), pool.Config().ConnString())
	must(t, err)
	t.Cleanup(side.Close)
	s.Checkout = checkoutpg.NewService(pool, checkoutpg.Config{
		Acquirer:  checkout.NewTestAcquirer([]byte("acquirer"), checkoutpg.NewLedger(side)),
		Publisher: s.Delivery, Merchants: s.Accounts, SidePool: side, Jobs: inserter,
		FingerprintKey: []byte("fingerprints"), PublicURL: "https://pay.herald.test",
		Metrics: checkoutpg.NewMetrics(prometheus.NewRegistry()), Logger: logger, Now: now,
	})
	must(t, s.Checkout.SeedBlocklist(context.Background()))
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("servicetest: %v", err)
	}
}
