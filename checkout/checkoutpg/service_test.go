package checkoutpg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/clocktest"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/webhook"

	"github.com/heraldpay/herald/internal/validation"
)

type testBundle struct {
	pool     *pgxpool.Pool
	svc      *Service
	acquirer *countingAcquirer
	inserter *river.Client[pgx.Tx]
	merchant string
	clock    *clocktest.Clock
	metrics  *Metrics
}

// countingAcquirer counts calls to the real test acquirer, to prove that
// blocked charges never reach the network, and breaks the network on
// demand.
type countingAcquirer struct {
	*checkout.TestAcquirer
	charges atomic.Int32
	// lost drops Charge requests on the way: the network never sees them,
	// and the caller gets an error.
	lost atomic.Bool
	// down makes Lookup and Void fail: the network cannot be reached.
	down atomic.Bool
}

var errNetworkDown = errors.New("acquirer unreachable")

func (a *countingAcquirer) Charge(ctx context.Context, req checkout.ChargeRequest) (checkout.ChargeResult, error) {
	a.charges.Add(1)
	if a.lost.Load() {
		return checkout.ChargeResult{}, errors.New("connection reset by peer")
	}
	return a.TestAcquirer.Charge(ctx, req)
}

func (a *countingAcquirer) Lookup(ctx context.Context, chargeID string) (checkout.ChargeResult, error) {
	if a.down.Load() {
		return checkout.ChargeResult{}, errNetworkDown
	}
	return a.TestAcquirer.Lookup(ctx, chargeID)
}

func (a *countingAcquirer) Void(ctx context.Context, chargeID string) error {
	if a.down.Load() {
		return errNetworkDown
	}
	return a.TestAcquirer.Void(ctx, chargeID)
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	m, _ := accounttest.NewMerchant(t, pool, "Acme")
	// The side pool, on the same database, as the server wires it.
	side, err := pgxpool.New(ctx, pool.Config().ConnString())
	require.NoError(t, err)
	t.Cleanup(side.Close)
	b := &testBundle{
		pool:     pool,
		acquirer: &countingAcquirer{TestAcquirer: checkout.NewTestAcquirer([]byte("acq"), NewLedger(side))},
		merchant: m.ID,
		clock:    clocktest.New(time.Now().Truncate(time.Second)),
		metrics:  NewMetrics(prometheus.NewRegistry()),
	}
	b.inserter, err = river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	box, err := seal.New(bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	b.svc = NewService(pool, Config{
		Acquirer: b.acquirer, Publisher: deliverypg.NewService(pool, deliverypg.Config{Box: box, Inserter: b.inserter}),
		Merchants: accountpg.NewStore(pool),
		SidePool:  side, Jobs: b.inserter, ReconcileAfter: 2 * time.Minute,
		FingerprintKey: []byte("fp"),
		PublicURL:      "http://pay.test/", Metrics: b.metrics, Now: b.clock.Now,
	})
	require.NoError(t, b.svc.SeedBlocklist(ctx))
	return b
}

func ptr[T any](v T) *T { return &v }

// newMerchant creates another merchant next to the bundle's and returns its
// id.
func (b *testBundle) newMerchant(t *testing.T, name string) string {
	t.Helper()
	m, _ := accounttest.NewMerchant(t, b.pool, name)
	return m.ID
}

func (b *testBundle) createSession(t *testing.T, merchantID string, unitAmount int64) *checkout.Session {
	t.Helper()
	sess, err := b.svc.CreateSession(context.Background(), merchantID, checkout.CreateSessionParams{
		LineItems:  []checkout.LineItemParams{{Name: "Book", UnitAmount: ptr(unitAmount), Quantity: ptr(int64(1))}},
		Currency:   "usd",
		SuccessURL: "https://shop.test/ok",
		CancelURL:  "https://shop.test/cart",
	})
	require.NoError(t, err)
	return sess
}

func (b *testBundle) pay(t *testing.T, sessionID, number string) (*checkout.PayResult, error) {
	t.Helper()
	card, err := checkout.ParseCard(number, "12/40", "123", b.clock.Now())
	require.NoError(t, err)
	return b.svc.Pay(context.Background(), checkout.PayRequest{
		SessionID: sessionID, Card: card, CardholderName: "Jo Doe", Email: "jo@shop.test",
		ClientIP: netip.MustParseAddr("192.0.2.7"),
	})
}

// payNew creates a session of amount and pays it with the test card
// number. The attempt must get an answer (a decline is one).
func (b *testBundle) payNew(t *testing.T, amount int64, number string) (*checkout.Session, *checkout.PayResult) {
	t.Helper()
	sess := b.createSession(t, b.merchant, amount)
	res, err := b.pay(t, sess.ID, number)
	require.NoError(t, err)
	return sess, res
}

// expireDue runs the expiry sweep over the sessions due now and returns
// how many it expired.
func (b *testBundle) expireDue(t *testing.T) int {
	t.Helper()
	n, err := b.svc.ExpireDue(context.Background(), 10)
	require.NoError(t, err)
	return n
}

// sessionStatus returns the status of one of the merchant's sessions.
func (b *testBundle) sessionStatus(t *testing.T, sessionID string) checkout.SessionStatus {
	t.Helper()
	sess, err := b.svc.FindSession(context.Background(), b.merchant, sessionID)
	require.NoError(t, err)
	return sess.Status
}

// setupChallenged is setup with one session paid with the 3-D Secure test
// card: it returns the bundle, the session and its charge, which waits for
// the customer's answer to the challenge.
func setupChallenged(t *testing.T) (*testBundle, *checkout.Session, *checkout.Charge) {
	t.Helper()
	b := setup(t)
	sess, res := b.payNew(t, 1000, checkout.TestCardThreeDSecure)
	require.Equal(t, checkout.OutcomeRequiresAuthentication, res.Outcome)
	return b, sess, res.Charge
}

// events returns the types of the events recorded for the merchant, oldest
// first, after checking each body is a valid envelope.
func (b *testBundle) events(t *testing.T) []string {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT type, body FROM events WHERE merchant_id = $1 ORDER BY seq`, b.merchant)
	require.NoError(t, err)
	var types []string
	for rows.Next() {
		var typ string
		var body []byte
		require.NoError(t, rows.Scan(&typ, &body))
		var ev webhook.Event
		require.NoError(t, json.Unmarshal(body, &ev))
		require.Equal(t, typ, ev.Type)
		require.Equal(t, "event", ev.Object)
		types = append(types, typ)
	}
	require.NoError(t, rows.Err())
	return types
}

func TestCreateFindList(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	other := b.newMerchant(t, "Other")

	var created []*checkout.Session
	for range 5 {
		created = append(created, b.createSession(t, b.merchant, 1000))
		b.clock.Advance(time.Second)
	}
	otherSession := b.createSession(t, other, 1000)
	require.Equal(t, "http://pay.test/pay/"+created[0].ID, created[0].URL)
	require.Equal(t, float64(6), testutil.ToFloat64(b.metrics.sessions.WithLabelValues(sessionCreated)))

	got, err := b.svc.FindSession(ctx, b.merchant, created[2].ID)
	require.NoError(t, err)
	require.Equal(t, created[2].ID, got.ID)
	require.Equal(t, created[2].LineItems, got.LineItems)
	require.Equal(t, created[2].ExpiresAt.Unix(), got.ExpiresAt.Unix())

	_, err = b.svc.FindSession(ctx, b.merchant, otherSession.ID)
	require.ErrorIs(t, err, checkout.ErrNotFound, "another merchant's session is invisible")

	page1, more, err := b.svc.ListSessions(ctx, b.merchant, 2, "")
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{created[4].ID, created[3].ID}, ids(page1))
	page2, more, err := b.svc.ListSessions(ctx, b.merchant, 2, page1[1].ID)
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{created[2].ID, created[1].ID}, ids(page2))
	page3, more, err := b.svc.ListSessions(ctx, b.merchant, 2, page2[1].ID)
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, []string{created[0].ID}, ids(page3))

	_, _, err = b.svc.ListSessions(ctx, b.merchant, 2, otherSession.ID)
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "starting_after", verr.Param)
}

func ids(list []*checkout.Session) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func TestPaySucceeds(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	sess, res := b.payNew(t, 2500, checkout.TestCardVisa)
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)

	got, err := b.svc.FindSession(ctx, b.merchant, sess.ID)
	require.NoError(t, err)
	require.Equal(t, checkout.StatusComplete, got.Status)
	require.Equal(t, checkout.PaymentPaid, got.PaymentStatus)
	require.Equal(t, "jo@shop.test", got.CustomerEmail)
	require.Equal(t, &checkout.Payment{ID: res.Charge.ID, Brand: "visa", Last4: "4242", ThreeDSecure: "not_required"}, got.Payment)
	require.Equal(t, []string{webhook.TypeChargeSucceeded, webhook.TypeCheckoutSessionCompleted}, b.events(t))

	var completed webhook.Event
	var body []byte
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT body FROM events WHERE type = $1`, webhook.TypeCheckoutSessionCompleted).Scan(&body))
	require.NoError(t, json.Unmarshal(body, &completed))
	var obj map[string]any
	require.NoError(t, json.Unmarshal(completed.Data.Object, &obj))
	require.Equal(t, sess.ID, obj["id"])
	require.Equal(t, "paid", obj["payment_status"])
	require.Equal(t, "complete", obj["status"])

	// The vault keeps brand, last4, expiry and a fingerprint: nothing else.
	var brand, last4, fingerprint string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT brand, last4, fingerprint FROM card_tokens`).Scan(&brand, &last4, &fingerprint))
	require.Equal(t, "visa", brand)
	require.Equal(t, "4242", last4)
	require.Len(t, fingerprint, 32)

	require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.payments.WithLabelValues(paymentSucceeded)))
	require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.sessions.WithLabelValues(sessionCompleted)))

	_, err = b.pay(t, sess.ID, checkout.TestCardVisa)
	require.ErrorIs(t, err, checkout.ErrSessionComplete)
	require.Equal(t, int32(1), b.acquirer.charges.Load(), "a complete session is never charged again")
}

func TestPayDeclines(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		number string
		code   string
	}{
		{checkout.TestCardDeclined, checkout.DeclineCardDeclined},
		{checkout.TestCardInsufficientFunds, checkout.DeclineInsufficientFunds},
		{checkout.TestCardExpired, checkout.DeclineExpiredCard},
		{checkout.TestCardIncorrectCVC, checkout.DeclineIncorrectCVC},
		{checkout.TestCardFraudulent, checkout.DeclineFraudulent},
	} {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			b := setup(t)
			sess, res := b.payNew(t, 2500, tt.number)
			require.Equal(t, checkout.OutcomeDeclined, res.Outcome)
			require.Equal(t, tt.code, res.Charge.FailureCode)

			require.Equal(t, checkout.StatusOpen, b.sessionStatus(t, sess.ID), "a decline leaves the session open for another try")
			require.Equal(t, []string{webhook.TypeChargeFailed}, b.events(t))

			var status, failure, decision string
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT status, failure_code, risk_decision FROM charges WHERE id = $1`, res.Charge.ID).
				Scan(&status, &failure, &decision))
			require.Equal(t, "failed", status)
			require.Equal(t, tt.code, failure)
			if tt.code == checkout.DeclineFraudulent {
				require.Equal(t, "block", decision)
				require.Equal(t, int32(0), b.acquirer.charges.Load(), "a blocked card never reaches the acquirer")
				require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.payments.WithLabelValues(paymentBlocked)))
			} else {
				require.Equal(t, "allow", decision)
				require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.payments.WithLabelValues(paymentDeclined)))
			}

			res, err := b.pay(t, sess.ID, checkout.TestCardMastercard)
			require.NoError(t, err)
			require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
		})
	}
}

func TestVelocityRules(t *testing.T) {
	t.Parallel()

	t.Run("Session", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		sess := b.createSession(t, b.merchant, 1000)
		for range 5 {
			res, err := b.pay(t, sess.ID, checkout.TestCardDeclined)
			require.NoError(t, err)
			require.Equal(t, checkout.DeclineCardDeclined, res.Charge.FailureCode)
		}
		res, err := b.pay(t, sess.ID, checkout.TestCardVisa)
		require.NoError(t, err)
		require.Equal(t, checkout.DeclineFraudulent, res.Charge.FailureCode)
		require.Contains(t, res.Charge.Risk.Reasons, checkout.ReasonSessionDeclines)

		// The window slides: ten minutes later the session may pay again.
		b.clock.Advance(10*time.Minute + time.Second)
		res, err = b.pay(t, sess.ID, checkout.TestCardVisa)
		require.NoError(t, err)
		require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
	})

	t.Run("CardAcrossSessions", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		for range 5 {
			b.payNew(t, 1000, checkout.TestCardInsufficientFunds)
		}
		// Same card, fresh session: blocked by the card rule (and the IP rule).
		_, res := b.payNew(t, 1000, checkout.TestCardInsufficientFunds)
		require.Equal(t, checkout.DeclineFraudulent, res.Charge.FailureCode)
		require.Contains(t, res.Charge.Risk.Reasons, checkout.ReasonCardDeclines)
		require.Contains(t, res.Charge.Risk.Reasons, checkout.ReasonIPDeclines)
	})

	t.Run("IPAcrossCards", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		cards := []string{checkout.TestCardDeclined, checkout.TestCardInsufficientFunds, checkout.TestCardExpired,
			checkout.TestCardIncorrectCVC, checkout.TestCardDeclined}
		for _, c := range cards {
			b.payNew(t, 1000, c)
		}
		_, res := b.payNew(t, 1000, checkout.TestCardVisa)
		require.Equal(t, checkout.DeclineFraudulent, res.Charge.FailureCode)
		require.Equal(t, []string{checkout.ReasonIPDeclines}, res.Charge.Risk.Reasons)
	})
}

func TestThreeDSecure(t *testing.T) {
	t.Parallel()

	t.Run("CardChallengeAuthenticated", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b, sess, _ := setupChallenged(t)
		require.Empty(t, b.events(t), "nothing is announced until the challenge is answered")

		page, err := b.svc.Checkout(ctx, sess.ID)
		require.NoError(t, err)
		require.NotNil(t, page.PendingAuthentication)
		require.Equal(t, "Acme", page.Merchant.Name)

		res, err := b.svc.Authenticate(ctx, sess.ID, true)
		require.NoError(t, err)
		require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
		require.Equal(t, checkout.ThreeDSAuthenticated, res.Session.Payment.ThreeDSecure)
		require.Equal(t, []string{webhook.TypeChargeSucceeded, webhook.TypeCheckoutSessionCompleted}, b.events(t))

		_, err = b.svc.Authenticate(ctx, sess.ID, true)
		require.ErrorIs(t, err, checkout.ErrSessionComplete)
	})

	t.Run("CardChallengeFailed", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b, sess, _ := setupChallenged(t)
		res, err := b.svc.Authenticate(ctx, sess.ID, false)
		require.NoError(t, err)
		require.Equal(t, checkout.OutcomeDeclined, res.Outcome)
		require.Equal(t, checkout.DeclineAuthenticationFailed, res.Charge.FailureCode)
		require.Equal(t, checkout.ThreeDSFailed, res.Charge.ThreeDSecure)
		require.Equal(t, []string{webhook.TypeChargeFailed}, b.events(t))

		_, err = b.svc.Authenticate(ctx, sess.ID, true)
		require.ErrorIs(t, err, checkout.ErrNoPendingAuthentication, "an answered challenge cannot be replayed")
	})

	t.Run("AmountThresholdChallengesAnyCard", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b := setup(t)
		sess, res := b.payNew(t, 100_000, checkout.TestCardVisa)
		require.Equal(t, checkout.OutcomeRequiresAuthentication, res.Outcome)
		require.Equal(t, checkout.RiskChallenge, res.Charge.Risk.Decision)

		res, err := b.svc.Authenticate(ctx, sess.ID, true)
		require.NoError(t, err)
		require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
	})

	t.Run("NewCardCancelsPendingChallenge", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b, sess, first := setupChallenged(t)
		res, err := b.pay(t, sess.ID, checkout.TestCardVisa)
		require.NoError(t, err)
		require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)

		var status string
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT status FROM charges WHERE id = $1`, first.ID).Scan(&status))
		require.Equal(t, "canceled", status)
	})
}

// lockWaiters counts the sessions of the test's database waiting for a
// lock. It reports an error rather than stopping: it runs on the goroutines
// of payments.
func (b *testBundle) lockWaiters(t *testing.T) int {
	var n int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
		t.Errorf("count lock waiters: %v", err)
	}
	return n
}

// firstChargeHeld holds the first charge at the acquirer until the other
// attempts are all seen waiting for a lock, or until a second charge
// arrives (which only a missing session lock lets happen), so that a race
// between attempts is decided the same way on every run.
type firstChargeHeld struct {
	*countingAcquirer
	others  int
	waiters func() int
	calls   atomic.Int32
	second  chan struct{}
}

func (a *firstChargeHeld) Charge(ctx context.Context, req checkout.ChargeRequest) (checkout.ChargeResult, error) {
	switch a.calls.Add(1) {
	case 1:
		deadline := time.Now().Add(10 * time.Second)
	wait:
		for time.Now().Before(deadline) && a.waiters() < a.others {
			select {
			case <-a.second:
				break wait
			case <-ctx.Done():
				return checkout.ChargeResult{}, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	case 2:
		close(a.second)
	}
	return a.countingAcquirer.Charge(ctx, req)
}

// Ten simultaneous submissions of one session: exactly one charge, one
// completion, one completed event. All ten are released together, and the
// first is held at the acquirer until the nine others wait for the
// session's lock.
func TestConcurrentPayChargesOnce(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	sess := b.createSession(t, b.merchant, 4200)
	const payers = 10
	b.svc.cfg.Acquirer = &firstChargeHeld{countingAcquirer: b.acquirer, others: payers - 1,
		waiters: func() int { return b.lockWaiters(t) }, second: make(chan struct{})}

	var ready, wg sync.WaitGroup
	var succeeded, alreadyComplete atomic.Int32
	start := make(chan struct{})
	for range payers {
		ready.Add(1)
		wg.Go(func() {
			ready.Done()
			<-start
			res, err := b.pay(t, sess.ID, checkout.TestCardVisa)
			switch {
			case errors.Is(err, checkout.ErrSessionComplete):
				alreadyComplete.Add(1)
			case err == nil && res.Outcome == checkout.OutcomeSucceeded:
				succeeded.Add(1)
			default:
				t.Errorf("unexpected result %v, %v", res, err)
			}
		})
	}
	ready.Wait()
	close(start)
	wg.Wait()

	require.Equal(t, int32(1), succeeded.Load())
	require.Equal(t, int32(9), alreadyComplete.Load())
	require.Equal(t, int32(1), b.acquirer.charges.Load())
	var charges, completedEvents int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE session_id = $1`, sess.ID).Scan(&charges))
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'checkout.session.completed'`).Scan(&completedEvents))
	require.Equal(t, 1, charges)
	require.Equal(t, 1, completedEvents)
}

func TestExpiry(t *testing.T) {
	t.Parallel()

	t.Run("ExpireDue", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		due := b.createSession(t, b.merchant, 1000)
		paid, _ := b.payNew(t, 1000, checkout.TestCardVisa)
		b.clock.Advance(30 * time.Minute)
		fresh := b.createSession(t, b.merchant, 1000)

		require.Zero(t, b.expireDue(t), "nothing is due before expires_at")

		b.clock.Advance(30 * time.Minute)
		require.Equal(t, 1, b.expireDue(t))

		for sessID, want := range map[string]checkout.SessionStatus{
			due.ID: checkout.StatusExpired, paid.ID: checkout.StatusComplete, fresh.ID: checkout.StatusOpen,
		} {
			require.Equal(t, want, b.sessionStatus(t, sessID))
		}
		require.Equal(t, []string{webhook.TypeChargeSucceeded, webhook.TypeCheckoutSessionCompleted, webhook.TypeCheckoutSessionExpired}, b.events(t))
		require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.sessions.WithLabelValues(sessionExpired)))

		require.Zero(t, b.expireDue(t), "an expired session is expired once")
	})

	t.Run("PayAfterExpiresAt", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		sess := b.createSession(t, b.merchant, 1000)
		b.clock.Advance(time.Hour)
		_, err := b.pay(t, sess.ID, checkout.TestCardVisa)
		require.ErrorIs(t, err, checkout.ErrSessionExpired)
		require.Zero(t, b.acquirer.charges.Load())
		require.Equal(t, checkout.StatusExpired, b.sessionStatus(t, sess.ID), "the late payment expired the session on the spot")
		require.Equal(t, []string{webhook.TypeCheckoutSessionExpired}, b.events(t))
	})

	t.Run("ExpireSession", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b, sess, _ := setupChallenged(t)

		got, err := b.svc.ExpireSession(ctx, b.merchant, sess.ID)
		require.NoError(t, err)
		require.Equal(t, checkout.StatusExpired, got.Status)
		got, err = b.svc.ExpireSession(ctx, b.merchant, sess.ID)
		require.NoError(t, err, "expiring twice is harmless")
		require.Equal(t, checkout.StatusExpired, got.Status)
		require.Equal(t, []string{webhook.TypeCheckoutSessionExpired}, b.events(t))

		_, err = b.svc.Authenticate(ctx, sess.ID, true)
		require.ErrorIs(t, err, checkout.ErrSessionExpired)
		var pending int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE status = 'requires_authentication'`).Scan(&pending))
		require.Zero(t, pending, "expiry cancels the pending 3-D Secure charge")

		paid, _ := b.payNew(t, 1000, checkout.TestCardVisa)
		_, err = b.svc.ExpireSession(ctx, b.merchant, paid.ID)
		require.ErrorIs(t, err, checkout.ErrSessionComplete)

		_, err = b.svc.ExpireSession(ctx, b.newMerchant(t, "Other"), b.createSession(t, b.merchant, 1000).ID)
		require.ErrorIs(t, err, checkout.ErrNotFound)
	})
}

type failingPublisher struct{}

func (failingPublisher) PublishTx(context.Context, pgx.Tx, string, ...webhook.Event) error {
	return errors.New("delivery queue unavailable")
}

// If the events cannot be recorded, the payment must not commit either: no
// completed session without its event. The charge the acquirer approved
// stays known, processing, for its reconciliation (reconcile_test.go).
func TestPaymentRollsBackWithoutEvents(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	sess := b.createSession(t, b.merchant, 1000)
	b.svc.cfg.Publisher = failingPublisher{}

	_, err := b.pay(t, sess.ID, checkout.TestCardVisa)
	require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)
	require.ErrorContains(t, err, "delivery queue unavailable")

	require.Equal(t, checkout.StatusOpen, b.sessionStatus(t, sess.ID))
	require.Empty(t, b.events(t))
	rows, err := b.pool.Query(ctx, `SELECT status FROM charges`)
	require.NoError(t, err)
	statuses, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"processing"}, statuses)
	require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.payments.WithLabelValues(paymentError)))
}
