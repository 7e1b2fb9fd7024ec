package checkout

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReconcile(t *testing.T) {
	t.Parallel()

	succeeded := ChargeResult{Outcome: OutcomeSucceeded}
	declined := ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineInsufficientFunds}
	authFailed := ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineAuthenticationFailed}
	challenge := ChargeResult{Outcome: OutcomeRequiresAuthentication, AuthenticationRef: "3ds2.x"}
	processingError := ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineProcessingError}
	for _, tt := range []struct {
		name    string
		session SessionStatus
		threeDS string // the charge's 3-D Secure state while processing
		res     ChargeResult
		known   bool
		want    Reconciliation
	}{
		{"NeverSeenFailsAndVoids", StatusOpen, ThreeDSNotRequired, ChargeResult{}, false,
			Reconciliation{Action: ReconcileRecord, Void: true, Result: processingError, ThreeDSecure: ThreeDSNotRequired}},
		{"ApprovedOpenSessionRecords", StatusOpen, ThreeDSNotRequired, succeeded, true,
			Reconciliation{Action: ReconcileRecord, Result: succeeded, ThreeDSecure: ThreeDSNotRequired}},
		{"ApprovedAfterChallenge", StatusOpen, ThreeDSRequired, succeeded, true,
			Reconciliation{Action: ReconcileRecord, Result: succeeded, ThreeDSecure: ThreeDSAuthenticated}},
		{"ApprovedExpiredSessionVoids", StatusExpired, ThreeDSNotRequired, succeeded, true,
			Reconciliation{Action: ReconcileCancel, Void: true, ThreeDSecure: ThreeDSNotRequired}},
		{"ApprovedPaidSessionVoids", StatusComplete, ThreeDSNotRequired, succeeded, true,
			Reconciliation{Action: ReconcileCancel, Void: true, ThreeDSecure: ThreeDSNotRequired}},
		{"DeclinedRecords", StatusOpen, ThreeDSNotRequired, declined, true,
			Reconciliation{Action: ReconcileRecord, Result: declined, ThreeDSecure: ThreeDSNotRequired}},
		{"DeclinedAfterPassedChallenge", StatusOpen, ThreeDSRequired, declined, true,
			Reconciliation{Action: ReconcileRecord, Result: declined, ThreeDSecure: ThreeDSAuthenticated}},
		{"FailedChallenge", StatusOpen, ThreeDSRequired, authFailed, true,
			Reconciliation{Action: ReconcileRecord, Result: authFailed, ThreeDSecure: ThreeDSFailed}},
		{"DeclinedOnClosedSessionStillRecords", StatusExpired, ThreeDSNotRequired, declined, true,
			Reconciliation{Action: ReconcileRecord, Result: declined, ThreeDSecure: ThreeDSNotRequired}},
		{"ChallengeOpenSessionWaitsAgain", StatusOpen, ThreeDSNotRequired, challenge, true,
			Reconciliation{Action: ReconcileRecord, Result: challenge, ThreeDSecure: ThreeDSRequired}},
		{"ChallengeClosedSessionCancels", StatusExpired, ThreeDSRequired, challenge, true,
			Reconciliation{Action: ReconcileCancel, ThreeDSecure: ThreeDSRequired}},
		{"VoidedCancels", StatusOpen, ThreeDSNotRequired, ChargeResult{Outcome: OutcomeVoided}, true,
			Reconciliation{Action: ReconcileCancel, ThreeDSecure: ThreeDSNotRequired}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got, err := Reconcile(&Session{Status: tt.session}, &Charge{ThreeDSecure: tt.threeDS}, tt.res, tt.known)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("UnknownOutcome", func(t *testing.T) {
		t.Parallel()

		_, err := Reconcile(&Session{Status: StatusOpen}, &Charge{}, ChargeResult{Outcome: "refunded"}, true)
		require.ErrorContains(t, err, `unknown outcome "refunded"`)
	})
}
