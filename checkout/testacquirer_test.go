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
	acq := NewTestAcquirer([]byte("key"))
	for _, tt := range []struct {
		number  string
		outcome Outcome
		code    string
	}{
		{TestCardVisa, OutcomeSucceeded, ""},
		{TestCardMastercard, OutcomeSucceeded, ""},
		{testCardAmex, OutcomeSucceeded, ""},
		{TestCardDeclined, OutcomeDeclined, DeclineCardDeclined},
		{TestCardInsufficientFunds, OutcomeDeclined, DeclineInsufficientFunds},
		{TestCardExpired, OutcomeDeclined, DeclineExpiredCard},
		{TestCardIncorrectCVC, OutcomeDeclined, DeclineIncorrectCVC},
		{TestCardThreeDSecure, OutcomeRequiresAuthentication, ""},
		{"4012888888881881", OutcomeDeclined, DeclineTestModeLiveCard},
	} {
		t.Run(tt.number, func(t *testing.T) {
			t.Parallel()

			res, err := acq.Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, tt.number), Amount: 1000, Currency: "usd"})
			require.NoError(t, err)
			require.Equal(t, tt.outcome, res.Outcome)
			require.Equal(t, tt.code, res.DeclineCode)
			require.Equal(t, tt.outcome == OutcomeRequiresAuthentication, res.AuthenticationRef != "")
		})
	}
}

func TestTestAcquirerThreeDSecure(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	acq := NewTestAcquirer([]byte("key"))

	start := func(t *testing.T, number string, require3DS bool) string {
		t.Helper()
		res, err := acq.Charge(ctx, ChargeRequest{ChargeID: "ch_1", Card: testCard(t, number), Amount: 1000, RequireAuthentication: require3DS})
		require.NoError(t, err)
		require.Equal(t, OutcomeRequiresAuthentication, res.Outcome)
		return res.AuthenticationRef
	}

	t.Run("Authenticated", func(t *testing.T) {
		t.Parallel()

		res, err := acq.CompleteAuthentication(ctx, "ch_1", start(t, TestCardThreeDSecure, false), true)
		require.NoError(t, err)
		require.Equal(t, ChargeResult{Outcome: OutcomeSucceeded}, res)
	})

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()

		res, err := acq.CompleteAuthentication(ctx, "ch_1", start(t, TestCardThreeDSecure, false), false)
		require.NoError(t, err)
		require.Equal(t, ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineAuthenticationFailed}, res)
	})

	t.Run("RiskChallengeKeepsCardOutcome", func(t *testing.T) {
		t.Parallel()

		res, err := acq.CompleteAuthentication(ctx, "ch_1", start(t, TestCardInsufficientFunds, true), true)
		require.NoError(t, err)
		require.Equal(t, ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineInsufficientFunds}, res)
	})

	t.Run("ForgedOrForeignRef", func(t *testing.T) {
		t.Parallel()

		ref := start(t, TestCardDeclined, true)
		for _, bad := range []string{"", "3ds1..x", "3ds1." + "." + ref[len("3ds1.card_declined."):], ref + "x"} {
			_, err := acq.CompleteAuthentication(ctx, "ch_1", bad, true)
			require.ErrorIs(t, err, ErrInvalidAuthenticationRef, bad)
		}
		_, err := acq.CompleteAuthentication(ctx, "ch_2", ref, true)
		require.ErrorIs(t, err, ErrInvalidAuthenticationRef, "ref is bound to its charge")
		_, err = NewTestAcquirer([]byte("other")).CompleteAuthentication(ctx, "ch_1", ref, true)
		require.ErrorIs(t, err, ErrInvalidAuthenticationRef, "ref is bound to the key")
	})
}
