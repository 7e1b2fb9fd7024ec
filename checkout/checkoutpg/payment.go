package checkoutpg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// Checkout implements checkout.PaymentService.
func (s *Service) Checkout(ctx context.Context, sessionID string) (*checkout.CheckoutPage, error) {
	sess, err := s.scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+sessionFrom+`WHERE s.id = $1`, sessionID))
	if err != nil {
		return nil, err
	}
	page := &checkout.CheckoutPage{Session: sess}
	if page.Merchant, err = s.cfg.Merchants.Find(ctx, sess.MerchantID); err != nil {
		return nil, fmt.Errorf("read merchant: %w", err)
	}
	page.PendingAuthentication, _, err = s.pendingCharge(ctx, s.pool, sessionID)
	if err != nil {
		return nil, err
	}
	return page, nil
}

// Pay implements checkout.PaymentService.
//
// The payment's transaction holds the session's row lock for the whole
// attempt, so a second submission of the same form waits and then finds the
// session complete: a session is charged successfully at most once. Holding
// the lock across the acquirer call is acceptable because the call is bounded
// by ctx and concerns one customer's session only.
//
// Before the acquirer hears of the charge, the charge is committed on its
// own (status processing, with its reconcile job): whatever fails after the
// acquirer answers, the charge is known and is reconciled by its id, never
// made twice. The lock is FOR NO KEY UPDATE so that this separate commit can
// reference the locked session.
func (s *Service) Pay(ctx context.Context, req checkout.PayRequest) (*checkout.PayResult, error) {
	var (
		res  *checkout.PayResult
		sent bool
	)
	err := s.payableTx(ctx, req.SessionID, func(tx pgx.Tx, sess *checkout.Session, now time.Time) error {
		charge := newCharge(sess, req, now)
		fingerprint := req.Card.Fingerprint(s.cfg.FingerprintKey)
		signals, err := s.riskSignals(ctx, tx, sess.ID, fingerprint, req.ClientIP, now)
		if err != nil {
			return err
		}
		signals.Amount = sess.AmountTotal
		charge.Risk = s.cfg.FraudRules.Evaluate(signals)
		if charge.Risk.Decision == checkout.RiskBlock {
			// Never sent to the acquirer: recorded in this transaction alone.
			charge.Status, charge.FailureCode = checkout.ChargeFailed, checkout.DeclineFraudulent
			if err := s.store(ctx, tx, charge, fingerprint, req.ClientIP, now); err != nil {
				return err
			}
			res, err = s.settle(ctx, tx, sess, charge, checkout.ChargeResult{Outcome: checkout.OutcomeDeclined,
				DeclineCode: checkout.DeclineFraudulent}, now)
			return err
		}
		charge.Status = checkout.ChargeProcessing
		err = s.commitProcessing(ctx, charge.ID, now, func(ptx pgx.Tx) error {
			return s.store(ctx, ptx, charge, fingerprint, req.ClientIP, now)
		})
		if err != nil {
			return err
		}
		sent = true
		result, err := s.cfg.Acquirer.Charge(ctx, checkout.ChargeRequest{
			ChargeID: charge.ID, Card: req.Card, Amount: sess.AmountTotal, Currency: sess.Currency,
			RequireAuthentication: charge.Risk.Decision == checkout.RiskChallenge,
		})
		if err != nil {
			return fmt.Errorf("acquirer charge: %w", err)
		}
		res, err = s.settle(ctx, tx, sess, charge, result, now)
		return err
	})
	err = unconfirmedIf(sent, err)
	s.count(res, err)
	return res, err
}

// Authenticate implements checkout.PaymentService. Like Pay, it commits the
// charge as processing before the acquirer finishes it.
func (s *Service) Authenticate(ctx context.Context, sessionID string, authenticated bool) (*checkout.PayResult, error) {
	var (
		res  *checkout.PayResult
		sent bool
	)
	err := s.payableTx(ctx, sessionID, func(tx pgx.Tx, sess *checkout.Session, now time.Time) error {
		// Not locked FOR UPDATE: the session's lock serialises attempts, and
		// commitProcessing updates the row from another transaction.
		charge, ref, err := s.pendingCharge(ctx, tx, sessionID)
		if err != nil {
			return err
		}
		if charge == nil {
			return checkout.ErrNoPendingAuthentication
		}
		err = s.commitProcessing(ctx, charge.ID, now, func(ptx pgx.Tx) error {
			tag, err := ptx.Exec(ctx, `UPDATE charges SET status = $3, updated_at = $2 WHERE id = $1 AND status = $4`,
				charge.ID, now, checkout.ChargeProcessing, checkout.ChargeRequiresAuthentication)
			if err != nil {
				return fmt.Errorf("mark charge processing: %w", err)
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("mark charge processing: charge %s is no longer waiting for authentication", charge.ID)
			}
			return nil
		})
		if err != nil {
			return err
		}
		sent = true
		result, err := s.cfg.Acquirer.CompleteAuthentication(ctx, charge.ID, ref, authenticated)
		if err != nil {
			return fmt.Errorf("acquirer authentication: %w", err)
		}
		charge.ThreeDSecure = checkout.ThreeDSFailed
		if authenticated {
			charge.ThreeDSecure = checkout.ThreeDSAuthenticated
		}
		res, err = s.settle(ctx, tx, sess, charge, result, now)
		return err
	})
	err = unconfirmedIf(sent, err)
	s.count(res, err)
	return res, err
}

// unconfirmedIf marks err as checkout.ErrPaymentUnconfirmed when the charge
// was already handed to the acquirer: its answer, if any, is not recorded,
// and the charge waits processing for its reconciliation.
func unconfirmedIf(sent bool, err error) error {
	if err == nil || !sent || errors.Is(err, checkout.ErrPaymentUnconfirmed) {
		return err
	}
	return fmt.Errorf("%w: %w", checkout.ErrPaymentUnconfirmed, err)
}

// payableTx locks the session and runs fn when it can be paid. An open
// session found past its expiry is expired on the spot, and that commits,
// before ErrSessionExpired is returned.
//
// Charges of the session found processing under the lock belong to no
// running attempt (an attempt holds the lock until it has recorded its
// answer), so they are reconciled first, in a transaction of their own that
// commits before the session is looked at again: the customer's retry after
// an unconfirmed payment lands on the completed session instead of paying
// twice. When the acquirer cannot be asked, nothing new is charged and the
// error is checkout.ErrPaymentUnconfirmed.
func (s *Service) payableTx(ctx context.Context, sessionID string, fn func(pgx.Tx, *checkout.Session, time.Time) error) error {
	for {
		var (
			expired    bool
			reconciled []reconciled
		)
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			sess, err := s.lockSession(ctx, tx, sessionID)
			if err != nil {
				return err
			}
			now := s.cfg.Now()
			orphans, err := s.charges(ctx, tx, `c.session_id = $1 AND c.status = $2`, sessionID, checkout.ChargeProcessing)
			if err != nil {
				return err
			}
			if len(orphans) > 0 {
				for _, c := range orphans {
					r, err := s.reconcileTx(ctx, tx, sess, c, now)
					if err != nil {
						return err
					}
					reconciled = append(reconciled, r)
				}
				return nil
			}
			err = sess.Payable(now)
			switch {
			case errors.Is(err, checkout.ErrSessionExpired) && sess.Status == checkout.StatusOpen:
				expired = true
				return s.expireTx(ctx, tx, sess, now)
			case err != nil:
				return err
			}
			return fn(tx, sess, now)
		})
		if err == nil && len(reconciled) > 0 {
			s.countReconciled(reconciled...)
			continue
		}
		if err == nil && expired {
			s.cfg.Metrics.sessions.WithLabelValues(sessionExpired).Inc()
			return checkout.ErrSessionExpired
		}
		return err
	}
}

// lockSession reads the session and takes its row lock for the rest of tx.
func (s *Service) lockSession(ctx context.Context, tx pgx.Tx, sessionID string) (*checkout.Session, error) {
	return s.scanSession(tx.QueryRow(ctx,
		`SELECT `+sessionColumns+sessionFrom+`WHERE s.id = $1 FOR NO KEY UPDATE OF s`, sessionID))
}

// newCharge is the charge an attempt to pay sess with req's card makes.
func newCharge(sess *checkout.Session, req checkout.PayRequest, now time.Time) *checkout.Charge {
	return &checkout.Charge{
		ID: id.New("ch"), MerchantID: sess.MerchantID, SessionID: sess.ID, TokenID: id.New("tok"),
		Amount: sess.AmountTotal, Currency: sess.Currency, Brand: req.Card.Brand, Last4: req.Card.Last4(),
		ExpMonth: req.Card.ExpMonth, ExpYear: req.Card.ExpYear, ThreeDSecure: checkout.ThreeDSNotRequired,
		BillingName: req.CardholderName, BillingEmail: req.Email, Created: now,
	}
}

// cancelPendingCharge cancels the session's charge waiting for 3-D Secure,
// if it has one.
func cancelPendingCharge(ctx context.Context, tx pgx.Tx, sessionID string, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE charges SET status = $3, updated_at = $2 WHERE session_id = $1 AND status = $4`,
		sessionID, now, checkout.ChargeCanceled, checkout.ChargeRequiresAuthentication)
	if err != nil {
		return fmt.Errorf("cancel pending charge: %w", err)
	}
	return nil
}

// store writes a new charge in tx: it cancels the 3-D Secure attempt the
// customer walked away from, if any, then stores what Herald may keep of
// the card (the token) and the charge row.
func (s *Service) store(ctx context.Context, tx pgx.Tx, charge *checkout.Charge, fingerprint string, ip netip.Addr, now time.Time) error {
	if err := cancelPendingCharge(ctx, tx, charge.SessionID, now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO card_tokens (id, merchant_id, brand, last4, exp_month, exp_year, fingerprint, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, charge.TokenID, charge.MerchantID, charge.Brand, charge.Last4,
		charge.ExpMonth, charge.ExpYear, fingerprint, now)
	if err != nil {
		return fmt.Errorf("insert card token: %w", err)
	}
	var ipArg *netip.Addr
	if ip.IsValid() {
		ipArg = &ip
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO charges (id, merchant_id, session_id, token_id, card_fingerprint, client_ip, amount, currency,
			status, failure_code, risk_level, risk_decision, risk_reasons, three_d_secure,
			billing_name, billing_email, brand, last4, exp_month, exp_year, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)`,
		charge.ID, charge.MerchantID, charge.SessionID, charge.TokenID, fingerprint, ipArg, charge.Amount,
		charge.Currency, charge.Status, charge.FailureCode, charge.Risk.Level, charge.Risk.Decision, charge.Risk.Reasons,
		charge.ThreeDSecure, charge.BillingName, charge.BillingEmail, charge.Brand, charge.Last4,
		charge.ExpMonth, charge.ExpYear, now)
	if err != nil {
		return fmt.Errorf("insert charge: %w", err)
	}
	return nil
}

// commitProcessing commits, on a connection of the side pool, what must be
// durable before the acquirer hears of chargeID: write (which leaves the
// charge processing) and the job that reconciles the charge should the
// attempt never record the answer.
func (s *Service) commitProcessing(ctx context.Context, chargeID string, now time.Time, write func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.cfg.SidePool, func(ptx pgx.Tx) error {
		if err := write(ptx); err != nil {
			return err
		}
		_, err := s.cfg.Jobs.InsertTx(ctx, ptx, ReconcileChargeArgs{ChargeID: chargeID},
			&river.InsertOpts{ScheduledAt: now.Add(s.cfg.ReconcileAfter)})
		if err != nil {
			return fmt.Errorf("enqueue charge reconciliation: %w", err)
		}
		return nil
	})
}

// settle records the acquirer's answer in tx: the charge's status (its row
// exists already), the session's completion on success, and the events.
func (s *Service) settle(ctx context.Context, tx pgx.Tx, sess *checkout.Session, charge *checkout.Charge,
	result checkout.ChargeResult, now time.Time,
) (*checkout.PayResult, error) {
	var events []event
	switch result.Outcome {
	case checkout.OutcomeSucceeded:
		charge.Status = checkout.ChargeSucceeded
		// Payable when the charge was made: a reconciliation may record it
		// after expires_at, as long as the session was not expired since.
		if err := sess.Complete(charge.Payment(), charge.BillingEmail, charge.Created); err != nil {
			return nil, err
		}
		events = append(events, event{webhook.TypeChargeSucceeded, charge}, event{webhook.TypeCheckoutSessionCompleted, sess})
	case checkout.OutcomeDeclined:
		charge.Status = checkout.ChargeFailed
		charge.FailureCode = result.DeclineCode
		events = append(events, event{webhook.TypeChargeFailed, charge})
	case checkout.OutcomeRequiresAuthentication:
		charge.Status = checkout.ChargeRequiresAuthentication
		charge.ThreeDSecure = checkout.ThreeDSRequired
	default:
		return nil, fmt.Errorf("acquirer returned unexpected outcome %q", result.Outcome)
	}
	_, err := tx.Exec(ctx, `UPDATE charges SET status = $2, failure_code = $3, three_d_secure = $4,
		authentication_ref = $5, updated_at = $6 WHERE id = $1`,
		charge.ID, charge.Status, charge.FailureCode, charge.ThreeDSecure, result.AuthenticationRef, now)
	if err != nil {
		return nil, fmt.Errorf("save charge: %w", err)
	}
	if charge.Status == checkout.ChargeSucceeded {
		_, err := tx.Exec(ctx, `UPDATE checkout_sessions SET status = $5, payment_status = $6,
			charge_id = $2, customer_email = $3, completed_at = $4 WHERE id = $1`,
			sess.ID, charge.ID, sess.CustomerEmail, now, checkout.StatusComplete, checkout.PaymentPaid)
		if err != nil {
			return nil, fmt.Errorf("complete session: %w", err)
		}
	}
	if err := s.publish(ctx, tx, sess.MerchantID, now, events...); err != nil {
		return nil, err
	}
	return &checkout.PayResult{Session: sess, Charge: charge, Outcome: result.Outcome}, nil
}

// chargeColumns are scanned by scanCharge.
const chargeColumns = `c.id, c.merchant_id, c.session_id, c.token_id, c.amount, c.currency, c.status, c.failure_code,
	c.brand, c.last4, c.exp_month, c.exp_year, c.risk_level, c.risk_decision, c.risk_reasons, c.three_d_secure,
	c.billing_name, c.billing_email, c.created_at, c.authentication_ref`

// charges returns the charges matching where (a condition on c, with args),
// oldest first, each with its authentication reference.
func (s *Service) charges(ctx context.Context, q pgx.Tx, where string, args ...any) ([]*checkout.Charge, error) {
	rows, err := q.Query(ctx, `SELECT `+chargeColumns+` FROM charges c WHERE `+where+` ORDER BY c.created_at, c.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read charges: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*checkout.Charge, error) {
		c, _, err := scanCharge(row)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read charges: %w", err)
	}
	return list, nil
}

func scanCharge(row pgx.Row) (*checkout.Charge, string, error) {
	var (
		c   checkout.Charge
		ref string
	)
	err := row.Scan(&c.ID, &c.MerchantID, &c.SessionID, &c.TokenID, &c.Amount,
		&c.Currency, &c.Status, &c.FailureCode, &c.Brand, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.Risk.Level,
		&c.Risk.Decision, &c.Risk.Reasons, &c.ThreeDSecure, &c.BillingName, &c.BillingEmail, &c.Created, &ref)
	return &c, ref, err
}

// pendingCharge returns the session's charge waiting for 3-D Secure and its
// authentication reference, or nil.
func (s *Service) pendingCharge(ctx context.Context, q querier, sessionID string) (*checkout.Charge, string, error) {
	c, ref, err := scanCharge(q.QueryRow(ctx, `SELECT `+chargeColumns+`
		FROM charges c WHERE c.session_id = $1 AND c.status = $2`, sessionID, checkout.ChargeRequiresAuthentication))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read pending charge: %w", err)
	}
	return c, ref, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// count updates the payment metrics once the transaction's fate is known.
func (s *Service) count(res *checkout.PayResult, err error) {
	m := s.cfg.Metrics
	switch {
	case err != nil:
		if !errors.Is(err, checkout.ErrSessionComplete) && !errors.Is(err, checkout.ErrSessionExpired) &&
			!errors.Is(err, checkout.ErrNotFound) && !errors.Is(err, checkout.ErrNoPendingAuthentication) {
			m.payments.WithLabelValues(paymentError).Inc()
		}
	case res.Outcome == checkout.OutcomeSucceeded:
		m.payments.WithLabelValues(paymentSucceeded).Inc()
		m.sessions.WithLabelValues(sessionCompleted).Inc()
	case res.Outcome == checkout.OutcomeRequiresAuthentication:
		m.payments.WithLabelValues(paymentChallenged).Inc()
	case res.Charge.FailureCode == checkout.DeclineFraudulent:
		m.payments.WithLabelValues(paymentBlocked).Inc()
	default:
		m.payments.WithLabelValues(paymentDeclined).Inc()
	}
}

// SeedBlocklist puts the test card that demonstrates fraud blocking
// (4100 0000 0000 0019) on the blocklist. Its fingerprint depends on the
// server secret, so it is written at start rather than by a migration.
func (s *Service) SeedBlocklist(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO card_blocklist (fingerprint, reason) VALUES ($1, 'test card 4100 0000 0000 0019')
		ON CONFLICT (fingerprint) DO NOTHING`, checkout.Fingerprint(s.cfg.FingerprintKey, checkout.TestCardFraudulent))
	if err != nil {
		return fmt.Errorf("seed blocklist: %w", err)
	}
	return nil
}
