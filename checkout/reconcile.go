package checkout

import "fmt"

// ReconcileAction is what becomes of a charge left processing: one handed
// to the acquirer whose answer Herald never recorded.
type ReconcileAction string

// Reconcile actions.
const (
	// ReconcileRecord records an answer as the attempt would have: a success
	// completes the session, a decline fails the charge, a 3-D Secure
	// request waits for the customer again.
	ReconcileRecord ReconcileAction = "record"
	// ReconcileCancel cancels the charge: the acquirer keeps no money for it.
	ReconcileCancel ReconcileAction = "cancel"
)

// Reconciliation is the decision for one processing charge.
type Reconciliation struct {
	Action ReconcileAction
	// Void asks the acquirer to void the charge before Action is applied:
	// an approval the session can no longer take (it expired, or another
	// charge paid it), or a charge the acquirer never saw, so that a request
	// for it still on its way is refused instead of charging.
	Void bool
	// Result is the answer to record when Action is ReconcileRecord.
	Result ChargeResult
	// ThreeDSecure is the charge's 3-D Secure state afterwards.
	ThreeDSecure string
}

// Reconcile decides the fate of charge, found processing with nobody
// working on it, from the acquirer's current answer (known false: the
// acquirer never saw the charge) and the session as it is now. It fails
// only for an outcome it does not know.
func Reconcile(sess *Session, charge *Charge, res ChargeResult, known bool) (Reconciliation, error) {
	if !known {
		return Reconciliation{Action: ReconcileRecord, Void: true, ThreeDSecure: charge.ThreeDSecure,
			Result: ChargeResult{Outcome: OutcomeDeclined, DeclineCode: DeclineProcessingError}}, nil
	}
	open := sess.Status == StatusOpen
	r := Reconciliation{Action: ReconcileRecord, Result: res, ThreeDSecure: threeDSecureAfter(charge.ThreeDSecure, res)}
	switch res.Outcome {
	case OutcomeSucceeded:
		if !open {
			r = Reconciliation{Action: ReconcileCancel, Void: true, ThreeDSecure: r.ThreeDSecure}
		}
	case OutcomeDeclined:
	case OutcomeRequiresAuthentication:
		if !open {
			r = Reconciliation{Action: ReconcileCancel, ThreeDSecure: charge.ThreeDSecure}
		}
	case OutcomeVoided:
		r = Reconciliation{Action: ReconcileCancel, ThreeDSecure: charge.ThreeDSecure}
	default:
		return Reconciliation{}, fmt.Errorf("acquirer returned unknown outcome %q", res.Outcome)
	}
	return r, nil
}

// threeDSecureAfter is the 3-D Secure state of a charge once the acquirer
// answered res. A charge that was waiting for the challenge and got a final
// answer was authenticated, unless the answer is the failed authentication.
func threeDSecureAfter(current string, res ChargeResult) string {
	switch {
	case res.Outcome == OutcomeRequiresAuthentication:
		return ThreeDSRequired
	case current != ThreeDSRequired:
		return current
	case res.Outcome == OutcomeDeclined && res.DeclineCode == DeclineAuthenticationFailed:
		return ThreeDSFailed
	}
	return ThreeDSAuthenticated
}
