package checkoutpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/riverjob"
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

// NewReconcileChargeWorker returns the worker of ReconcileChargeArgs for
// svc: it reconciles the charge. When the acquirer cannot be asked it
// returns the error, and River retries on its backoff (25 attempts span
// about three weeks); a customer's next attempt on the session reconciles
// it too.
func NewReconcileChargeWorker(svc *Service) river.Worker[ReconcileChargeArgs] {
	return river.WorkFunc(func(ctx context.Context, job *river.Job[ReconcileChargeArgs]) error {
		return svc.ReconcileCharge(ctx, job.Args.ChargeID)
	})
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

// ReconcileSweepArgs is the leader's periodic job that makes sure every
// charge stuck in processing has a live reconcile job. Its own job may have
// used up River's attempts during a long acquirer outage, or been deleted
// by hand in River UI; without this the charge would wait for a customer
// who may never come back.
type ReconcileSweepArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileSweepArgs) Kind() string { return "herald.reconcile_sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts: one sweep at a time.
func (ReconcileSweepArgs) InsertOpts() river.InsertOpts {
	return riverjob.OneLive()
}

// ReconcileSweepPeriodicJob schedules the sweep every interval; River runs
// periodic jobs on its elected leader only.
func ReconcileSweepPeriodicJob(interval time.Duration) *river.PeriodicJob {
	return riverjob.Periodic(interval, ReconcileSweepArgs{})
}

// NewReconcileSweepWorker returns the worker of ReconcileSweepArgs for svc.
func NewReconcileSweepWorker(svc *Service) river.Worker[ReconcileSweepArgs] {
	return river.WorkFunc(func(ctx context.Context, _ *river.Job[ReconcileSweepArgs]) error {
		n, err := svc.SweepProcessing(ctx, river.ClientFromContext[pgx.Tx](ctx))
		if n > 0 {
			svc.cfg.Logger.Warn("re-enqueued reconcile jobs of charges still processing", "count", n)
		}
		return err
	})
}

// sweepBatch bounds the charges one sweep enqueues.
const sweepBatch = 500

// sweepProcessingSQL finds the charges processing since before $1 without a
// live reconcile job ($2 its kind, $3 the live states), at most $4.
// 'processing' stays a literal: it is the predicate of the partial index
// charges_one_processing_per_session, which the planner uses only when the
// query repeats it (TestPartialIndexLiterals). The charge id is matched
// twice, like deliverypg's hasLiveJob: by containment, which River's GIN
// index on args serves for a few charges, and by equality, so that many
// charges (a long acquirer outage) are matched to the live jobs read once
// rather than by one GIN probe each.
const sweepProcessingSQL = `SELECT c.id FROM charges c
	WHERE c.status = 'processing' AND c.updated_at < $1
	AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.kind = $2 AND j.args @> jsonb_build_object('charge_id', c.id)
		AND j.args->>'charge_id' = c.id AND j.state::text = ANY($3))
	ORDER BY c.updated_at LIMIT $4`

// SweepProcessing enqueues a reconcile job, due now, for each charge that
// has been processing for longer than ReconcileAfter without a live one,
// and returns how many it enqueued.
func (s *Service) SweepProcessing(ctx context.Context, inserter JobInserter) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sweepProcessingSQL,
			s.cfg.Now().Add(-s.cfg.ReconcileAfter), ReconcileChargeArgs{}.Kind(), riverjob.LiveStateNames(), sweepBatch)
		if err != nil {
			return fmt.Errorf("find processing charges: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("find processing charges: %w", err)
		}
		for _, chargeID := range ids {
			if _, err := inserter.InsertTx(ctx, tx, ReconcileChargeArgs{ChargeID: chargeID}, nil); err != nil {
				return fmt.Errorf("enqueue reconcile job: %w", err)
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
