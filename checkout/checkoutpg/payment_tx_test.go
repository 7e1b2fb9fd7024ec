package checkoutpg

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/webhook"
)

// injectAtCommit makes the database refuse the payment's transaction at
// COMMIT, after every one of its statements ran: a deferred constraint
// trigger on the row the payment writes. It returns the function that
// removes it.
func (b *testBundle) injectAtCommit(t *testing.T, table, when string) (heal func()) {
	t.Helper()
	ctx := context.Background()
	_, err := b.pool.Exec(ctx, `CREATE OR REPLACE FUNCTION injected_commit_fault() RETURNS trigger LANGUAGE plpgsql
		AS $$ BEGIN RAISE EXCEPTION 'injected fault at commit'; END $$`)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `CREATE CONSTRAINT TRIGGER injected_commit_fault AFTER UPDATE ON `+table+`
		DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (`+when+`) EXECUTE FUNCTION injected_commit_fault()`)
	require.NoError(t, err)
	return func() {
		t.Helper()
		_, err := b.pool.Exec(ctx, `DROP TRIGGER injected_commit_fault ON `+table)
		require.NoError(t, err)
	}
}

// The events of a payment are written in the payment's own transaction:
// when that transaction fails at its very end, after the events were
// published, none of them is left behind. What the payment committed on
// purpose before calling the acquirer stays: the charge, processing, with
// its token and its reconcile job, which then records the outcome and its
// events, once.
func TestPaymentEventsCommitWithThePayment(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name, card   string
		table, when  string
		charge       string // the charge's status once reconciled
		session      checkout.SessionStatus
		eventsAfter  []string
		failureCode  string
		ledgerStatus checkout.LedgerStatus
	}{
		{
			name: "Succeeded", card: checkout.TestCardVisa,
			table: "checkout_sessions", when: `NEW.status = 'complete'`,
			charge: "succeeded", session: checkout.StatusComplete,
			eventsAfter:  []string{webhook.TypeChargeSucceeded, webhook.TypeCheckoutSessionCompleted},
			ledgerStatus: checkout.LedgerApproved,
		},
		{
			name: "Declined", card: checkout.TestCardDeclined,
			table: "charges", when: `NEW.status = 'failed'`,
			charge: "failed", session: checkout.StatusOpen, failureCode: checkout.DeclineCardDeclined,
			eventsAfter:  []string{webhook.TypeChargeFailed},
			ledgerStatus: checkout.LedgerDeclined,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			ctx := context.Background()
			b := setup(t)
			sess := b.createSession(t, b.merchant, 2500)
			heal := b.injectAtCommit(t, tt.table, tt.when)

			_, err := b.pay(t, sess.ID, tt.card)
			require.ErrorIs(t, err, checkout.ErrPaymentUnconfirmed)
			require.ErrorContains(t, err, "injected fault at commit")

			require.Empty(t, b.events(t), "no event of a payment that did not commit")
			var deliveries, jobs int
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM deliveries),
				(SELECT count(*) FROM river_job WHERE kind <> $1)`, ReconcileChargeArgs{}.Kind()).Scan(&deliveries, &jobs))
			require.Zero(t, deliveries)
			require.Zero(t, jobs, "no job but the reconciliation")
			require.Equal(t, checkout.StatusOpen, b.sessionStatus(t, sess.ID))
			charges := b.chargeRows(t, sess.ID)
			require.Len(t, charges, 1)
			require.Equal(t, "processing", charges[0].Status, "committed before the acquirer was called")
			var tokens int
			require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM card_tokens`).Scan(&tokens))
			require.Equal(t, 1, tokens)

			heal()
			require.NoError(t, b.runReconcileJob(t, charges[0].ID))
			require.Equal(t, tt.eventsAfter, b.events(t), "the events, once")
			got := b.chargeRows(t, sess.ID)
			require.Equal(t, tt.charge, got[0].Status)
			require.Equal(t, tt.failureCode, got[0].FailureCode)
			require.Equal(t, tt.session, b.sessionStatus(t, sess.ID))
			require.Equal(t, map[string]checkout.LedgerStatus{charges[0].ID: tt.ledgerStatus}, b.ledger(t))
		})
	}
}
