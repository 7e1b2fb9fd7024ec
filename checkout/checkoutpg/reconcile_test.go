package checkoutpg

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/webhook"
)

// fault makes the database refuse one write with a trigger, the way a bad
// row, a full disk or a broken connection would, after the acquirer has
// answered.
type fault struct{ table, when string }

var (
	faultCompletion = fault{"checkout_sessions", `BEFORE UPDATE ON checkout_sessions FOR EACH ROW WHEN (NEW.status = 'complete')`}
	faultEvents     = fault{"events", `BEFORE INSERT ON events FOR EACH ROW`}
	faultChallenge  = fault{"charges", `BEFORE UPDATE ON charges FOR EACH ROW WHEN (NEW.status = 'requires_authentication')`}
)

// inject installs f and returns the function that removes it.
func (b *testBundle) inject(t *testing.T, f fault) (heal func()) {
	t.Helper()
	ctx := context.Background()
	_, err := b.pool.Exec(ctx, `CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql
		AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$`)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `CREATE TRIGGER injected_fault `+f.when+` EXECUTE FUNCTION injected_fault()`)
	require.NoError(t, err)
	return func() {
		t.Helper()
		_, err := b.pool.Exec(ctx, `DROP TRIGGER injected_fault ON `+f.table)
		require.NoError(t, err)
	}
}

// ledger returns the test acquirer's book: each charge id's status.
func (b *testBundle) ledger(t *testing.T) map[string]checkout.LedgerStatus {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT charge_id, status FROM acquirer_ledger`)
	require.NoError(t, err)
	book := map[string]checkout.LedgerStatus{}
	for rows.Next() {
		var id, status string
		require.NoError(t, rows.Scan(&id, &status))
		book[id] = checkout.LedgerStatus(status)
	}
	require.NoError(t, rows.Err())
	return book
}

type chargeRow struct {
	ID, Status, FailureCode, ThreeDSecure, AuthenticationRef string
}

// chargeRows returns the session's charges, oldest first.
func (b *testBundle) chargeRows(t *testing.T, sessionID string) []chargeRow {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT id, status, failure_code, three_d_secure, authentication_ref
		FROM charges WHERE session_id = $1 ORDER BY created_at, id`, sessionID)
	require.NoError(t, err)
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[chargeRow])
	require.NoError(t, err)
	return list
}

// reconcileJob returns the newest reconcile job enqueued for chargeID.
func (b *testBundle) reconcileJob(t *testing.T, chargeID string) *rivertype.JobRow {
	t.Helper()
	res, err := b.inserter.JobList(context.Background(), river.NewJobListParams().Kinds(ReconcileChargeArgs{}.Kind()).First(100))
	require.NoError(t, err)
	var job *rivertype.JobRow
	for _, j := range res.Jobs {
		var args ReconcileChargeArgs
		require.NoError(t, json.Unmarshal(j.EncodedArgs, &args))
		if args.ChargeID == chargeID {
			job = j
		}
	}
	require.NotNil(t, job, "a reconcile job was enqueued with the charge")
	return job
}

// runReconcileJob works the reconcile job enqueued for chargeID with River's
// test worker, as a worker process would once it is due, and returns the
// worker's error.
func (b *testBundle) runReconcileJob(t *testing.T, chargeID string) error {
	t.Helper()
	ctx := context.Background()
	job := b.reconcileJob(t, chargeID)
	tx, err := b.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // the job row's state is not under test
	w := rivertest.NewWorker(t, riverpgxv5.New(b.pool), &river.Config{}, NewReconcileChargeWorker(b.svc))
	_, err = w.WorkJob(ctx, t, tx, job)
	return err
}

func (b *testBundle) reconciled(result string) float64 {
	return testutil.ToFloat64(b.metrics.reconciled.WithLabelValues(result))
}

// unconfirmedApproval pays a new session while recording its completion
// fails: the acquirer approved, and the charge is left processing. It
// returns the session and the charge's id.
func (b *testBundle) unconfirmedApproval(t *testing.T) (*checkout.Session, string) {
	t.Helper()
	sess := b.createSession(t, b.merchant, 2500)
	heal := b.inject(t, faultCompletion)
	_, err := b.pay(t, sess.ID, checkout.TestCardVisa)
	require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)
	heal()
	return sess, b.chargeRows(t, sess.ID)[0].ID
}

// Every way an attempt can fail once the charge is handed to the acquirer:
// the customer gets ErrPaymentUnconfirmed, the charge is committed as
// processing with its reconcile job, and the acquirer's ledger holds what it
// did. Then, with the fault gone, either the reconcile job or the customer's
// next attempt records what happened, and no money moves twice.
func TestFailureAfterAcquirerIsReconciled(t *testing.T) {
	t.Parallel()

	type after struct {
		charge   chargeRow // ID is filled in
		session  checkout.SessionStatus
		events   []string
		ledger   checkout.LedgerStatus
		metric   string
		moreWork func(t *testing.T, b *testBundle, sess *checkout.Session)
	}
	succeeded := []string{webhook.TypeChargeSucceeded, webhook.TypeCheckoutSessionCompleted}
	for _, tt := range []struct {
		name string
		// card is paid with; threeDS first answers the challenge with
		// Authenticate, so the failing step is the authentication.
		card    string
		threeDS bool
		fault   *fault // nil: the charge request is lost on the way instead
		// ledger is the acquirer's book right after the failure ("" none).
		ledger checkout.LedgerStatus
		job    after
	}{
		{
			name: "ApprovedThenCompletionFails", card: checkout.TestCardVisa, fault: &faultCompletion,
			ledger: checkout.LedgerApproved,
			job: after{charge: chargeRow{Status: "succeeded", ThreeDSecure: "not_required"}, session: checkout.StatusComplete,
				events: succeeded, ledger: checkout.LedgerApproved, metric: reconcileSucceeded},
		},
		{
			name: "DeclinedThenEventsFail", card: checkout.TestCardDeclined, fault: &faultEvents,
			ledger: checkout.LedgerDeclined,
			job: after{charge: chargeRow{Status: "failed", FailureCode: checkout.DeclineCardDeclined, ThreeDSecure: "not_required"},
				session: checkout.StatusOpen, events: []string{webhook.TypeChargeFailed}, ledger: checkout.LedgerDeclined, metric: reconcileFailed},
		},
		{
			name: "ChallengeThenRecordingFails", card: checkout.TestCardThreeDSecure, fault: &faultChallenge,
			ledger: checkout.LedgerRequiresAuthentication,
			job: after{charge: chargeRow{Status: "requires_authentication", ThreeDSecure: "required"}, session: checkout.StatusOpen,
				ledger: checkout.LedgerRequiresAuthentication, metric: reconcileRequiresAuthentication,
				moreWork: func(t *testing.T, b *testBundle, sess *checkout.Session) {
					// The reference came back from the acquirer: the customer can
					// finish the challenge.
					res, err := b.svc.Authenticate(context.Background(), sess.ID, true)
					require.NoError(t, err)
					require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
				}},
		},
		{
			name: "AuthenticatedThenCompletionFails", card: checkout.TestCardThreeDSecure, threeDS: true, fault: &faultCompletion,
			ledger: checkout.LedgerApproved,
			job: after{charge: chargeRow{Status: "succeeded", ThreeDSecure: "authenticated"}, session: checkout.StatusComplete,
				events: succeeded, ledger: checkout.LedgerApproved, metric: reconcileSucceeded},
		},
		{
			name: "RequestLostOnTheWay", card: checkout.TestCardVisa,
			job: after{charge: chargeRow{Status: "failed", FailureCode: checkout.DeclineProcessingError, ThreeDSecure: "not_required"},
				session: checkout.StatusOpen, events: []string{webhook.TypeChargeFailed},
				// A tombstone: a request still on its way would be refused.
				ledger: checkout.LedgerVoided, metric: reconcileFailed},
		},
	} {
		// fail runs the attempt that fails and checks what it leaves behind:
		// the id of the charge left processing.
		fail := func(t *testing.T, b *testBundle) (*checkout.Session, string) {
			t.Helper()
			ctx := context.Background()
			sess := b.createSession(t, b.merchant, 2500)
			attempt := func() error {
				_, err := b.pay(t, sess.ID, tt.card)
				return err
			}
			if tt.threeDS {
				require.NoError(t, attempt())
				attempt = func() error {
					_, err := b.svc.Authenticate(ctx, sess.ID, true)
					return err
				}
			}
			if tt.fault != nil {
				defer b.inject(t, *tt.fault)()
			} else {
				b.acquirer.lost.Store(true)
				defer b.acquirer.lost.Store(false)
			}
			err := attempt()
			require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)

			charges := b.chargeRows(t, sess.ID)
			require.Len(t, charges, 1)
			require.Equal(t, "processing", charges[0].Status, "the charge was committed before the acquirer was called")
			require.Equal(t, checkout.StatusOpen, b.sessionStatus(t, sess.ID))
			require.Empty(t, b.events(t))
			want := map[string]checkout.LedgerStatus{}
			if tt.ledger != "" {
				want[charges[0].ID] = tt.ledger
			}
			require.Equal(t, want, b.ledger(t))
			job := b.reconcileJob(t, charges[0].ID)
			require.WithinDuration(t, b.clock.Now().Add(2*time.Minute), job.ScheduledAt, 5*time.Second)
			require.Equal(t, float64(1), testutil.ToFloat64(b.metrics.payments.WithLabelValues(paymentError)))
			return sess, charges[0].ID
		}

		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			t.Run("Job", func(t *testing.T) {
				t.Parallel()

				b := setup(t)
				sess, chargeID := fail(t, b)
				require.NoError(t, b.runReconcileJob(t, chargeID))

				want := tt.job.charge
				want.ID = chargeID
				got := b.chargeRows(t, sess.ID)
				if want.Status == "requires_authentication" {
					require.NotEmpty(t, got[0].AuthenticationRef)
					got[0].AuthenticationRef = ""
				}
				require.Equal(t, []chargeRow{want}, got)
				require.Equal(t, tt.job.session, b.sessionStatus(t, sess.ID))
				require.Equal(t, tt.job.events, b.events(t))
				require.Equal(t, map[string]checkout.LedgerStatus{chargeID: tt.job.ledger}, b.ledger(t))
				require.Equal(t, float64(1), b.reconciled(tt.job.metric))

				// Running it again (a retried job) changes nothing.
				require.NoError(t, b.runReconcileJob(t, chargeID))
				require.Equal(t, tt.job.events, b.events(t))
				require.Equal(t, float64(1), b.reconciled(tt.job.metric))
				if tt.job.moreWork != nil {
					tt.job.moreWork(t, b, sess)
				}
			})

			t.Run("CustomerRetries", func(t *testing.T) {
				t.Parallel()

				b := setup(t)
				sess, chargeID := fail(t, b)
				chargesBefore := b.acquirer.charges.Load()
				b.clock.Advance(time.Second) // the retry's charge sorts after the first
				_, err := b.pay(t, sess.ID, checkout.TestCardMastercard)
				if tt.job.session == checkout.StatusComplete {
					// The first attempt went through: the retry lands on the
					// paid session (the page sends it to the success URL) and
					// charges nothing.
					require.ErrorIs(t, err, checkout.ErrSessionComplete)
					require.Equal(t, chargesBefore, b.acquirer.charges.Load())
					require.Equal(t, map[string]checkout.LedgerStatus{chargeID: checkout.LedgerApproved}, b.ledger(t))
					require.Equal(t, succeeded, b.events(t))
					return
				}
				// The first attempt did not collect anything: the retry pays.
				require.NoError(t, err)
				require.Equal(t, checkout.StatusComplete, b.sessionStatus(t, sess.ID))
				charges := b.chargeRows(t, sess.ID)
				require.Len(t, charges, 2)
				require.Equal(t, chargeID, charges[0].ID)
				require.NotEqual(t, "processing", charges[0].Status)
				require.Equal(t, "succeeded", charges[1].Status)
				book := b.ledger(t)
				require.Equal(t, checkout.LedgerApproved, book[charges[1].ID])
				approved := 0
				for _, st := range book {
					if st == checkout.LedgerApproved {
						approved++
					}
				}
				require.Equal(t, 1, approved, "one approval for one session")
			})
		})
	}
}

// The approval arrives for a session that expired before it was recorded:
// the reconciliation voids it and the session stays expired.
func TestReconcileVoidsApprovalForExpiredSession(t *testing.T) {
	t.Parallel()

	b := setup(t)
	sess, chargeID := b.unconfirmedApproval(t)

	b.clock.Advance(time.Hour)
	require.Equal(t, 1, b.expireDue(t), "a processing charge does not hold the session open")

	require.NoError(t, b.runReconcileJob(t, chargeID))
	require.Equal(t, map[string]checkout.LedgerStatus{chargeID: checkout.LedgerVoided}, b.ledger(t), "the money went back")
	require.Equal(t, []chargeRow{{ID: chargeID, Status: "canceled", ThreeDSecure: "not_required"}}, b.chargeRows(t, sess.ID))
	require.Equal(t, checkout.StatusExpired, b.sessionStatus(t, sess.ID))
	require.Equal(t, []string{webhook.TypeCheckoutSessionExpired}, b.events(t))
	require.Equal(t, float64(1), b.reconciled(reconcileVoided))
}

// An approval made while the session was payable is recorded even when the
// reconciliation runs after expires_at, as long as the session was not
// expired meanwhile: the customer paid in time.
func TestReconcileRecordsApprovalMadeInTime(t *testing.T) {
	t.Parallel()

	b := setup(t)
	sess, chargeID := b.unconfirmedApproval(t)

	b.clock.Advance(time.Hour)
	require.NoError(t, b.runReconcileJob(t, chargeID))
	require.Equal(t, checkout.StatusComplete, b.sessionStatus(t, sess.ID))
	require.Equal(t, map[string]checkout.LedgerStatus{chargeID: checkout.LedgerApproved}, b.ledger(t))
}

// While the acquirer cannot be asked about an unconfirmed charge, the
// customer's retry is refused with ErrPaymentUnconfirmed and charges
// nothing new; once it answers, the retry lands on the paid session.
func TestReconcileWhileAcquirerUnreachable(t *testing.T) {
	t.Parallel()

	b := setup(t)
	sess, chargeID := b.unconfirmedApproval(t)

	b.acquirer.down.Store(true)
	_, err := b.pay(t, sess.ID, checkout.TestCardMastercard)
	require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)
	require.ErrorIs(t, err, errNetworkDown)
	require.Equal(t, int32(1), b.acquirer.charges.Load(), "no new charge while the first is unconfirmed")
	require.Equal(t, []chargeRow{{ID: chargeID, Status: "processing", ThreeDSecure: "not_required"}}, b.chargeRows(t, sess.ID))
	require.ErrorIs(t, b.runReconcileJob(t, chargeID), checkout.ErrPaymentUnconfirmed, "the job fails, so River retries it")
	require.Equal(t, "processing", b.chargeRows(t, sess.ID)[0].Status)

	b.acquirer.down.Store(false)
	_, err = b.pay(t, sess.ID, checkout.TestCardMastercard)
	require.ErrorIs(t, err, checkout.ErrSessionComplete)
	require.Equal(t, int32(1), b.acquirer.charges.Load())
	require.Equal(t, map[string]checkout.LedgerStatus{chargeID: checkout.LedgerApproved}, b.ledger(t))
	require.Equal(t, "succeeded", b.chargeRows(t, sess.ID)[0].Status)
}

// gatedAcquirer holds Charge until released, to keep an attempt in flight.
type gatedAcquirer struct {
	*countingAcquirer
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (a *gatedAcquirer) open() { a.once.Do(func() { close(a.release) }) }

func (a *gatedAcquirer) Charge(ctx context.Context, req checkout.ChargeRequest) (checkout.ChargeResult, error) {
	close(a.entered)
	select {
	case <-a.release:
	case <-ctx.Done():
		return checkout.ChargeResult{}, ctx.Err()
	}
	return a.countingAcquirer.Charge(ctx, req)
}

// A reconcile job that comes due while its attempt is still waiting for the
// acquirer waits for the session's lock, and then leaves the recorded charge
// alone: an attempt is never reconciled under its feet.
func TestReconcileWaitsForLiveAttempt(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	gate := &gatedAcquirer{countingAcquirer: b.acquirer, entered: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(gate.open) // a failed assertion must not leave the attempt hanging
	b.svc.cfg.Acquirer = gate
	sess := b.createSession(t, b.merchant, 2500)
	card, err := checkout.ParseCard(checkout.TestCardVisa, "12/40", "123", b.clock.Now())
	require.NoError(t, err)

	paid := make(chan error, 1)
	go func() {
		_, err := b.svc.Pay(ctx, checkout.PayRequest{SessionID: sess.ID, Card: card, Email: "jo@shop.test"})
		paid <- err
	}()
	<-gate.entered
	chargeID := b.chargeRows(t, sess.ID)[0].ID
	reconciled := make(chan error, 1)
	go func() { reconciled <- b.svc.ReconcileCharge(ctx, chargeID) }()
	require.Eventually(t, func() bool {
		return b.lockWaiters(t) == 1
	}, 10*time.Second, 10*time.Millisecond, "the job waits for the session's lock")
	gate.open()

	require.NoError(t, <-paid)
	require.NoError(t, <-reconciled)
	require.Equal(t, []chargeRow{{ID: chargeID, Status: "succeeded", ThreeDSecure: "not_required"}}, b.chargeRows(t, sess.ID))
	require.Equal(t, map[string]checkout.LedgerStatus{chargeID: checkout.LedgerApproved}, b.ledger(t))
	require.Equal(t, []string{webhook.TypeChargeSucceeded, webhook.TypeCheckoutSessionCompleted}, b.events(t))
	for _, r := range []string{reconcileSucceeded, reconcileFailed, reconcileRequiresAuthentication, reconcileVoided, reconcileCanceled} {
		require.Zero(t, b.reconciled(r), r)
	}
}

// The Postgres ledger honours the charge id like the network it stands
// for: concurrent charges under one id make one entry, and a repeated charge
// answers the first result.
func TestLedgerHonoursKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	card := func(number string) checkout.Card {
		c, err := checkout.ParseCard(number, "12/40", "123", b.clock.Now())
		require.NoError(t, err)
		return c
	}
	results := make(chan checkout.ChargeResult, 10)
	errs := make(chan error, 10)
	for i := range 10 {
		number := checkout.TestCardVisa
		if i%2 == 1 {
			number = checkout.TestCardDeclined
		}
		go func() {
			res, err := b.acquirer.TestAcquirer.Charge(ctx, checkout.ChargeRequest{ChargeID: "ch_same", Card: card(number), Amount: 700, Currency: "eur"})
			results <- res
			errs <- err
		}()
	}
	first := <-results
	require.NoError(t, <-errs)
	for range 9 {
		require.Equal(t, first, <-results, "every caller gets the answer recorded first")
		require.NoError(t, <-errs)
	}
	want := checkout.LedgerApproved
	if first.Outcome == checkout.OutcomeDeclined {
		want = checkout.LedgerDeclined
	}
	require.Equal(t, map[string]checkout.LedgerStatus{"ch_same": want}, b.ledger(t))

	ledger := NewLedger(b.pool)
	e, err := ledger.Entry(ctx, "ch_same")
	require.NoError(t, err)
	require.Equal(t, int64(700), e.Amount)
	require.Equal(t, "eur", e.Currency)
	_, err = ledger.Entry(ctx, "ch_other")
	require.ErrorIs(t, err, checkout.ErrUnknownCharge)
	_, err = ledger.Move(ctx, "ch_other", []checkout.LedgerStatus{checkout.LedgerApproved}, checkout.LedgerVoided, "")
	require.ErrorIs(t, err, checkout.ErrUnknownCharge)

	// Move only moves from the given statuses.
	moved, err := ledger.Move(ctx, "ch_same", []checkout.LedgerStatus{checkout.LedgerRequiresAuthentication}, checkout.LedgerVoided, "")
	require.NoError(t, err)
	require.Equal(t, e, moved, "not in from: left as it was")
	moved, err = ledger.Move(ctx, "ch_same", []checkout.LedgerStatus{checkout.LedgerApproved, checkout.LedgerDeclined}, checkout.LedgerVoided, "")
	require.NoError(t, err)
	require.Equal(t, checkout.LedgerVoided, moved.Status)
	require.NoError(t, b.acquirer.Void(ctx, "ch_same"), "voiding again is harmless")
	require.Equal(t, map[string]checkout.LedgerStatus{"ch_same": checkout.LedgerVoided}, b.ledger(t))
}

// A charge left processing whose reconcile job is gone (used up River's
// attempts during a long outage, or deleted in River UI) gets a new one
// from the leader's sweep, once ReconcileAfter has passed, and is
// reconciled; a charge whose job is still live, or that is younger, is left
// alone.
func TestSweepProcessingCharges(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	orphan, young := b.createSession(t, b.merchant, 2500), b.createSession(t, b.merchant, 1200)
	heal := b.inject(t, faultCompletion)
	_, err := b.pay(t, orphan.ID, checkout.TestCardVisa)
	require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)
	orphanCharge := b.chargeRows(t, orphan.ID)[0].ID
	_, err = b.pool.Exec(ctx, `DELETE FROM river_job WHERE kind = $1`, ReconcileChargeArgs{}.Kind())
	require.NoError(t, err)
	b.clock.Advance(b.svc.cfg.ReconcileAfter + time.Second)
	_, err = b.pay(t, young.ID, checkout.TestCardVisa) // its job is live, and it is young
	require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)
	heal()

	n, err := b.svc.SweepProcessing(ctx, b.inserter)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the orphan")
	job := b.reconcileJob(t, orphanCharge)
	require.LessOrEqual(t, job.ScheduledAt, time.Now().Add(time.Second), "due now")
	n, err = b.svc.SweepProcessing(ctx, b.inserter)
	require.NoError(t, err)
	require.Zero(t, n, "its new job is live")

	require.NoError(t, b.runReconcileJob(t, orphanCharge))
	require.Equal(t, checkout.StatusComplete, b.sessionStatus(t, orphan.ID))
	require.Equal(t, "succeeded", b.chargeRows(t, orphan.ID)[0].Status)
}
