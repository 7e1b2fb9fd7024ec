package checkout

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func testCard(t *testing.T, number string) Card {
	t.Helper()
	cvc := "123"
	if number == testCardAmex {
		cvc = "1234"
	}
	c, err := ParseCard(number, "12/30", cvc, testNow)
	require.NoError(t, err)
	return c
}

func TestTestAcquirerCharge(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	for _, tt := range []struct {
		number  string
		outcome Outcome
		code    string
		ledger  LedgerStatus
	}{
		{TestCardVisa, OutcomeSucceeded, "", LedgerApproved},
		{TestCardMastercard, OutcomeSucceeded, "", LedgerApproved},
		{testCardAmex, OutcomeSucceeded, "", LedgerApproved},
		{TestCardDeclined, OutcomeDeclined, DeclineCardDeclined, LedgerDeclined},
		{TestCardInsufficientFunds, OutcomeDeclined, DeclineInsufficientFunds, LedgerDeclined},
		{TestCardExpired, OutcomeDeclined, DeclineExpiredCard, LedgerDeclined},
		{TestCardIncorrectCVC, OutcomeDeclined, DeclineIncorrectCVC, LedgerDeclined},
		{TestCardThreeDSecure, OutcomeRequiresAuthentication, "", LedgerRequiresAuthentication},
		{"4012888888881881", OutcomeDeclined, DeclineTestModeLiveCard, LedgerDeclined},
	} {
		t.Run(tt.number, func(t *testing.T) {
			t.Parallel()

			ledger := NewMemoryLedger()
			acq := NewTestAcquirer([]byte("key"), ledger)
			res, err := acq.Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, tt.number), Amount: 1000, Currency: "usd"})
			require.NoError(t, err)
			require.Equal(t, tt.outcome, res.Outcome)
			require.Equal(t, tt.code, res.DeclineCode)
			require.Equal(t, tt.outcome == OutcomeRequiresAuthentication, res.AuthenticationRef != "")

			entry, err := ledger.Entry(ctx, "ch_1")
			require.NoError(t, err)
			require.Equal(t, tt.ledger, entry.Status)
			require.Equal(t, int64(1000), entry.Amount)
			require.Equal(t, "usd", entry.Currency)

			looked, err := acq.Lookup(ctx, "ch_1")
			require.NoError(t, err)
			require.Equal(t, res, looked, "Lookup answers what Charge answered")
		})
	}
}

// The charge id is an idempotency key: a second Charge under it, even with
// another card, answers the first result and moves no money.
func TestTestAcquirerHonoursKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ledger := NewMemoryLedger()
	acq := NewTestAcquirer([]byte("key"), ledger)
	req := ChargeRequest{ChargeID: "ch_1", Card: testCard(t, TestCardVisa), Amount: 1000, Currency: "usd"}
	first, err := acq.Charge(ctx, req)
	require.NoError(t, err)
	require.Equal(t, OutcomeSucceeded, first.Outcome)

	again, err := acq.Charge(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first, again)
	req.Card = testCard(t, TestCardDeclined)
	req.Amount = 5000
	other, err := acq.Charge(ctx, req)
	require.NoError(t, err)
	require.Equal(t, first, other, "the first answer stands, whatever the retry carries")
	require.Equal(t, []LedgerEntry{{ChargeID: "ch_1", Amount: 1000, Currency: "usd", Status: LedgerApproved}}, ledger.Entries())

	_, err = acq.Lookup(ctx, "ch_2")
	require.ErrorIs(t, err, ErrUnknownCharge)
}

func TestTestAcquirerVoid(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	charge := func(t *testing.T, acq *TestAcquirer, number string) {
		t.Helper()
		_, err := acq.Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, number), Amount: 1000, Currency: "usd"})
		require.NoError(t, err)
	}

	for _, tt := range []struct {
		name   string
		number string // "" charges nothing before the void
		want   Outcome
	}{
		{"Approved", TestCardVisa, OutcomeVoided},
		{"WaitingForAuthentication", TestCardThreeDSecure, OutcomeVoided},
		{"DeclinedStaysDeclined", TestCardDeclined, OutcomeDeclined},
		{"NeverSeen", "", OutcomeVoided},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			acq := NewTestAcquirer([]byte("key"), NewMemoryLedger())
			if tt.number != "" {
				charge(t, acq, tt.number)
			}
			require.NoError(t, acq.Void(ctx, "ch_1"))
			require.NoError(t, acq.Void(ctx, "ch_1"), "voiding twice is harmless")
			res, err := acq.Lookup(ctx, "ch_1")
			require.NoError(t, err)
			require.Equal(t, tt.want, res.Outcome)
		})
	}

	t.Run("LateChargeAfterVoidMovesNothing", func(t *testing.T) {
		t.Parallel()

		ledger := NewMemoryLedger()
		acq := NewTestAcquirer([]byte("key"), ledger)
		require.NoError(t, acq.Void(ctx, "ch_1"))
		res, err := acq.Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, TestCardVisa), Amount: 1000, Currency: "usd"})
		require.NoError(t, err)
		require.Equal(t, OutcomeVoided, res.Outcome, "a request arriving after the void is refused")
		require.Equal(t, []LedgerEntry{{ChargeID: "ch_1", Status: LedgerVoided}}, ledger.Entries())
	})
}

func TestTestAcquirerThreeDSecure(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	start := func(t *testing.T, number string, require3DS bool) (*TestAcquirer, string) {
		t.Helper()
		acq := NewTestAcquirer([]byte("key"), NewMemoryLedger())
		res, err := acq.Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, number), Amount: 1000, RequireAuthentication: require3DS})
		require.NoError(t, err)
		require.Equal(t, OutcomeRequiresAuthentication, res.Outcome)
		return acq, res.AuthenticationRef
	}

	t.Run("Authenticated", func(t *testing.T) {
		t.Parallel()

		acq, ref := start(t, TestCardThreeDSecure, false)
		res, err := acq.CompleteAuthentication(ctx, "ch_1", ref, true)
		require.NoError(t, err)
		require.Equal(t, ChargeResult{Outcome: OutcomeSucceeded}, res)

		again, err := acq.CompleteAuthentication(ctx, "ch_1", ref, false)
		require.NoError(t, err)
		require.Equal(t, res, again, "a completed charge answers its outcome again")
		looked, err := acq.Lookup(ctx, "ch_1")
		require.NoError(t, err)
		require.Equal(t, res, looked)
	})

	for _, tt := range []struct {
		name       string
		number     string
		require3DS bool
		passed     bool // the customer's answer to the challenge
		want       ChargeResult
	}{
		{"Failed", TestCardThreeDSecure, false, false,
			ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineAuthenticationFailed}},
		{"RiskChallengeKeepsCardOutcome", TestCardInsufficientFunds, true, true,
			ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineInsufficientFunds}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			acq, ref := start(t, tt.number, tt.require3DS)
			res, err := acq.CompleteAuthentication(ctx, "ch_1", ref, tt.passed)
			require.NoError(t, err)
			require.Equal(t, tt.want, res)
		})
	}

	t.Run("LookupGivesTheReference", func(t *testing.T) {
		t.Parallel()

		acq, ref := start(t, TestCardThreeDSecure, false)
		res, err := acq.Lookup(ctx, "ch_1")
		require.NoError(t, err)
		require.Equal(t, ChargeResult{Outcome: OutcomeRequiresAuthentication, AuthenticationRef: ref}, res)
	})

	t.Run("ForgedOrForeignRef", func(t *testing.T) {
		t.Parallel()

		acq, ref := start(t, TestCardDeclined, true)
		for _, bad := range []string{"", "3ds2.", "3ds1." + ref[len("3ds2."):], ref + "x"} {
			_, err := acq.CompleteAuthentication(ctx, "ch_1", bad, true)
			require.ErrorIs(t, err, ErrInvalidAuthenticationRef, bad)
		}
		_, err := acq.CompleteAuthentication(ctx, "ch_2", ref, true)
		require.ErrorIs(t, err, ErrInvalidAuthenticationRef, "ref is bound to its charge")
		_, err = NewTestAcquirer([]byte("other"), NewMemoryLedger()).CompleteAuthentication(ctx, "ch_1", ref, true)
		require.ErrorIs(t, err, ErrInvalidAuthenticationRef, "ref is bound to the key")
	})

	// After a key rotation, a challenge started under the old key still
	// completes while the old key is kept; new references use the new key.
	t.Run("RefUnderPreviousKey", func(t *testing.T) {
		t.Parallel()

		ledger := NewMemoryLedger()
		res, err := NewTestAcquirer([]byte("key"), ledger).Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, TestCardThreeDSecure), Amount: 100, Currency: "usd"})
		require.NoError(t, err)
		oldRef := res.AuthenticationRef

		rotated := NewTestAcquirer([]byte("new key"), ledger, []byte("key"))
		res, err = rotated.Lookup(ctx, "ch_1")
		require.NoError(t, err)
		require.NotEqual(t, oldRef, res.AuthenticationRef, "signed under the new key")
		_, err = NewTestAcquirer([]byte("new key"), ledger).CompleteAuthentication(ctx, "ch_1", oldRef, true)
		require.ErrorIs(t, err, ErrInvalidAuthenticationRef, "the old key dropped, its references fail")
		res, err = rotated.CompleteAuthentication(ctx, "ch_1", oldRef, true)
		require.NoError(t, err)
		require.Equal(t, OutcomeSucceeded, res.Outcome)
	})
}
