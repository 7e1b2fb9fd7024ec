package checkoutpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/checkout"
)

// ReconcileChargeArgs is the River job that reconciles one charge with the
// acquirer, should the attempt that made it not record the answer itself.
// It is enqueued with the charge, before the acquirer is called, and runs
// Config.ReconcileAfter later; if the attempt recorded its answer by then,
// it finds nothing to do.
type ReconcileChargeArgs struct {
	ChargeID string `json:"charge_id"`
}

// Kind implements river.JobArgs.
func (ReconcileChargeArgs) Kind() string { return "herald.reconcile_charge" }

// ReconcileChargeWorker works ReconcileChargeArgs.
type ReconcileChargeWorker struct {
	river.WorkerDefaults[ReconcileChargeArgs]
	svc *Service
}

// NewReconcileChargeWorker returns the worker for svc.
func NewReconcileChargeWorker(svc *Service) *ReconcileChargeWorker {
	return &ReconcileChargeWorker{svc: svc}
}

// Work reconciles the charge. When the acquirer cannot be asked it returns
// the error, and River retries on its backoff (25 attempts span about three
// weeks); a customer's next attempt on the session reconciles it too.
func (w *ReconcileChargeWorker) Work(ctx context.Context, job *river.Job[ReconcileChargeArgs]) error {
	return w.svc.ReconcileCharge(ctx, job.Args.ChargeID)
}

// ReconcileCharge settles chargeID if it is still processing once it holds
// its session's lock; a charge recorded meanwhile is left alone. Errors:
// checkout.ErrPaymentUnconfirmed when the acquirer cannot be asked.
func (s *Service) ReconcileCharge(ctx context.Context, chargeID string) error {
	var done []reconciled
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var sessionID string
		err := tx.QueryRow(ctx, `SELECT session_id FROM charges WHERE id = $1`, chargeID).Scan(&sessionID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // its job commits with the charge: only deletion gets here
		}
		if err != nil {
			return fmt.Errorf("read charge: %w", err)
		}
		// The attempt that made the charge holds this lock until it has
		// recorded the answer: waiting for it means never reconciling a charge
		// under a live attempt's feet.
		sess, err := s.lockSession(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		list, err := s.charges(ctx, tx, `c.id = $1 AND c.status = $2`, chargeID, checkout.ChargeProcessing)
		if err != nil || len(list) == 0 {
			return err
		}
		r, err := s.reconcileTx(ctx, tx, sess, list[0], s.cfg.Now())
		if err != nil {
			return err
		}
		done = append(done, r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("reconcile charge %s: %w", chargeID, err)
	}
	s.countReconciled(done...)
	return nil
}

// reconciled is what one reconciliation did, counted once its transaction
// commits.
type reconciled struct {
	chargeID, sessionID string
	result              string // a reconcile* label of herald_charges_reconciled_total
}

// reconcileTx settles a processing charge with nobody working on it, in tx,
// which holds the session's lock: it asks the acquirer what became of the
// charge and records that (checkout.Reconcile decides), voiding what must
// not be kept.
func (s *Service) reconcileTx(ctx context.Context, tx pgx.Tx, sess *checkout.Session, charge *checkout.Charge, now time.Time) (reconciled, error) {
	res, err := s.cfg.Acquirer.Lookup(ctx, charge.ID)
	known := !errors.Is(err, checkout.ErrUnknownCharge)
	if err != nil && known {
		return reconciled{}, fmt.Errorf("%w: look up charge %s: %w", checkout.ErrPaymentUnconfirmed, charge.ID, err)
	}
	d, err := checkout.Reconcile(sess, charge, res, known)
	if err != nil {
		return reconciled{}, err
	}
	if d.Void {
		if err := s.cfg.Acquirer.Void(ctx, charge.ID); err != nil {
			return reconciled{}, fmt.Errorf("%w: void charge %s: %w", checkout.ErrPaymentUnconfirmed, charge.ID, err)
		}
	}
	r := reconciled{chargeID: charge.ID, sessionID: sess.ID}
	charge.ThreeDSecure = d.ThreeDSecure
	switch d.Action {
	case checkout.ReconcileRecord:
		if _, err := s.settle(ctx, tx, sess, charge, d.Result, now); err != nil {
			return reconciled{}, err
		}
		switch d.Result.Outcome {
		case checkout.OutcomeSucceeded:
			r.result = reconcileSucceeded
		case checkout.OutcomeRequiresAuthentication:
			r.result = reconcileRequiresAuthentication
		default:
			r.result = reconcileFailed
		}
	case checkout.ReconcileCancel:
		_, err := tx.Exec(ctx, `UPDATE charges SET status = $4, three_d_secure = $2, authentication_ref = '',
			updated_at = $3 WHERE id = $1`, charge.ID, charge.ThreeDSecure, now, checkout.ChargeCanceled)
		if err != nil {
			return reconciled{}, fmt.Errorf("cancel charge: %w", err)
		}
		r.result = reconcileCanceled
		if d.Void {
			r.result = reconcileVoided
		}
	}
	return r, nil
}

// countReconciled counts and logs committed reconciliations.
func (s *Service) countReconciled(list ...reconciled) {
	for _, r := range list {
		s.cfg.Metrics.reconciled.WithLabelValues(r.result).Inc()
		if r.result == reconcileSucceeded {
			s.cfg.Metrics.sessions.WithLabelValues(sessionCompleted).Inc()
		}
		s.cfg.Logger.Warn("charge reconciled", "charge_id", r.chargeID, "session_id", r.sessionID, "result", r.result)
	}
}
