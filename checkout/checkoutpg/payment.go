package checkoutpg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

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
	m := &page.Merchant
	err = s.pool.QueryRow(ctx, `SELECT id, name, logo_url, accent_color FROM merchants WHERE id = $1`, sess.MerchantID).
		Scan(&m.ID, &m.Name, &m.LogoURL, &m.AccentColor)
	if err != nil {
		return nil, fmt.Errorf("read merchant: %w", err)
	}
	page.PendingAuthentication, _, err = s.pendingCharge(ctx, s.pool, sessionID, false)
	if err != nil {
		return nil, err
	}
	return page, nil
}

// Pay implements checkout.PaymentService.
//
// Everything happens in one transaction holding the session's row lock:
// tokenization, the risk decision, the acquirer call, the charge row, the
// session's completion and the events. A second submission of the same form
// waits for the lock and then finds the session complete, so a session is
// charged successfully at most once. Holding a row lock across the acquirer
// call is acceptable because the call is bounded by ctx and concerns one
// customer's session only.
func (s *Service) Pay(ctx context.Context, req checkout.PayRequest) (*checkout.PayResult, error) {
	var res *checkout.PayResult
	err := s.payableTx(ctx, req.SessionID, func(tx pgx.Tx, sess *checkout.Session, now time.Time) error {
		// A new card replaces a 3-D Secure attempt the customer walked away from.
		if _, err := tx.Exec(ctx, `UPDATE charges SET status = 'canceled', updated_at = $2
			WHERE session_id = $1 AND status = 'requires_authentication'`, sess.ID, now); err != nil {
			return fmt.Errorf("cancel pending charge: %w", err)
		}
		charge, err := s.tokenize(ctx, tx, sess, req, now)
		if err != nil {
			return err
		}
		fingerprint := req.Card.Fingerprint(s.cfg.FingerprintKey)
		signals, err := s.riskSignals(ctx, tx, sess, fingerprint, req.ClientIP, now)
		if err != nil {
			return err
		}
		charge.Risk = s.cfg.FraudRules.Evaluate(signals)
		if charge.Risk.Decision == checkout.RiskBlock {
			res, err = s.settle(ctx, tx, sess, charge, checkout.ChargeResult{Outcome: checkout.OutcomeDeclined,
				DeclineCode: checkout.DeclineFraudulent}, fingerprint, req.ClientIP, now)
			return err
		}
		result, err := s.cfg.Acquirer.Charge(ctx, checkout.ChargeRequest{
			ChargeID: charge.ID, Card: req.Card, Amount: sess.AmountTotal, Currency: sess.Currency,
			RequireAuthentication: charge.Risk.Decision == checkout.RiskChallenge,
		})
		if err != nil {
			return fmt.Errorf("acquirer charge: %w", err)
		}
		res, err = s.settle(ctx, tx, sess, charge, result, fingerprint, req.ClientIP, now)
		return err
	})
	s.count(res, err)
	return res, err
}

// Authenticate implements checkout.PaymentService.
func (s *Service) Authenticate(ctx context.Context, sessionID string, authenticated bool) (*checkout.PayResult, error) {
	var res *checkout.PayResult
	err := s.payableTx(ctx, sessionID, func(tx pgx.Tx, sess *checkout.Session, now time.Time) error {
		charge, ref, err := s.pendingCharge(ctx, tx, sessionID, true)
		if err != nil {
			return err
		}
		if charge == nil {
			return checkout.ErrNoPendingAuthentication
		}
		result, err := s.cfg.Acquirer.CompleteAuthentication(ctx, charge.ID, ref, authenticated)
		if err != nil {
			return fmt.Errorf("acquirer authentication: %w", err)
		}
		charge.ThreeDSecure = checkout.ThreeDSFailed
		if authenticated {
			charge.ThreeDSecure = checkout.ThreeDSAuthenticated
		}
		res, err = s.settle(ctx, tx, sess, charge, result, "", netip.Addr{}, now)
		return err
	})
	s.count(res, err)
	return res, err
}

// payableTx locks the session and runs fn when it can be paid. An open
// session found past its expiry is expired on the spot, and that commits,
// before ErrSessionExpired is returned.
func (s *Service) payableTx(ctx context.Context, sessionID string, fn func(pgx.Tx, *checkout.Session, time.Time) error) error {
	expired := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		sess, err := s.scanSession(tx.QueryRow(ctx,
			`SELECT `+sessionColumns+sessionFrom+`WHERE s.id = $1 FOR UPDATE OF s`, sessionID))
		if err != nil {
			return err
		}
		now := s.cfg.Now()
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
	if err == nil && expired {
		s.cfg.Metrics.sessions.WithLabelValues(sessionExpired).Inc()
		return checkout.ErrSessionExpired
	}
	return err
}

// tokenize stores what Herald may keep of the card and returns the new
// charge it will be used for.
func (s *Service) tokenize(ctx context.Context, tx pgx.Tx, sess *checkout.Session, req checkout.PayRequest, now time.Time) (*checkout.Charge, error) {
	charge := &checkout.Charge{
		ID: id.New("ch"), MerchantID: sess.MerchantID, SessionID: sess.ID, TokenID: id.New("tok"),
		Amount: sess.AmountTotal, Currency: sess.Currency, Brand: req.Card.Brand, Last4: req.Card.Last4(),
		ExpMonth: req.Card.ExpMonth, ExpYear: req.Card.ExpYear, ThreeDSecure: checkout.ThreeDSNotRequired,
		BillingName: req.CardholderName, BillingEmail: req.Email, Created: now,
	}
	_, err := tx.Exec(ctx, `INSERT INTO card_tokens (id, merchant_id, brand, last4, exp_month, exp_year, fingerprint, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, charge.TokenID, sess.MerchantID, charge.Brand, charge.Last4,
		charge.ExpMonth, charge.ExpYear, req.Card.Fingerprint(s.cfg.FingerprintKey), now)
	if err != nil {
		return nil, fmt.Errorf("insert card token: %w", err)
	}
	return charge, nil
}

// riskSignals gathers what the fraud rules look at in one round trip.
func (s *Service) riskSignals(ctx context.Context, tx pgx.Tx, sess *checkout.Session, fingerprint string, ip netip.Addr, now time.Time) (checkout.RiskSignals, error) {
	sig := checkout.RiskSignals{Amount: sess.AmountTotal}
	var ipArg *netip.Addr
	if ip.IsValid() {
		ipArg = &ip
	}
	err := tx.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM card_blocklist WHERE fingerprint = $2),
		(SELECT count(*) FROM charges WHERE session_id = $1 AND status = 'failed' AND created_at > $4),
		(SELECT count(*) FROM charges WHERE card_fingerprint = $2 AND status = 'failed' AND created_at > $4),
		(SELECT count(*) FROM charges WHERE client_ip = $3 AND status = 'failed' AND created_at > $4)`,
		sess.ID, fingerprint, ipArg, now.Add(-s.cfg.FraudRules.DeclineWindow)).
		Scan(&sig.Blocklisted, &sig.SessionDeclines, &sig.CardDeclines, &sig.IPDeclines)
	if err != nil {
		return sig, fmt.Errorf("read risk signals: %w", err)
	}
	return sig, nil
}

// settle records the acquirer's answer: the charge row, the session's
// completion on success, and the events, all in tx. fingerprint and ip are
// only needed (and only written) when the charge row is new.
func (s *Service) settle(ctx context.Context, tx pgx.Tx, sess *checkout.Session, charge *checkout.Charge,
	result checkout.ChargeResult, fingerprint string, ip netip.Addr, now time.Time,
) (*checkout.PayResult, error) {
	var events []event
	switch result.Outcome {
	case checkout.OutcomeSucceeded:
		charge.Status = checkout.ChargeSucceeded
		if err := sess.Complete(charge.Payment(), charge.BillingEmail, now); err != nil {
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
		return nil, fmt.Errorf("acquirer returned unknown outcome %q", result.Outcome)
	}

	var ipArg *netip.Addr
	if ip.IsValid() {
		ipArg = &ip
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO charges (id, merchant_id, session_id, token_id, card_fingerprint, client_ip, amount, currency,
			status, failure_code, risk_level, risk_decision, risk_reasons, three_d_secure, authentication_ref,
			billing_name, billing_email, brand, last4, exp_month, exp_year, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)
		ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, failure_code = EXCLUDED.failure_code,
			three_d_secure = EXCLUDED.three_d_secure, authentication_ref = '', updated_at = EXCLUDED.updated_at`,
		charge.ID, charge.MerchantID, charge.SessionID, charge.TokenID, fingerprint, ipArg, charge.Amount,
		charge.Currency, charge.Status, charge.FailureCode, charge.Risk.Level, charge.Risk.Decision,
		charge.Risk.Reasons, charge.ThreeDSecure, result.AuthenticationRef, charge.BillingName,
		charge.BillingEmail, charge.Brand, charge.Last4, charge.ExpMonth, charge.ExpYear, now)
	if err != nil {
		return nil, fmt.Errorf("save charge: %w", err)
	}
	if charge.Status == checkout.ChargeSucceeded {
		_, err := tx.Exec(ctx, `UPDATE checkout_sessions SET status = 'complete', payment_status = 'paid',
			charge_id = $2, customer_email = $3, completed_at = $4 WHERE id = $1`, sess.ID, charge.ID, sess.CustomerEmail, now)
		if err != nil {
			return nil, fmt.Errorf("complete session: %w", err)
		}
	}
	if err := s.publish(ctx, tx, sess.MerchantID, now, events...); err != nil {
		return nil, err
	}
	return &checkout.PayResult{Session: sess, Charge: charge, Outcome: result.Outcome}, nil
}

// pendingCharge returns the session's charge waiting for 3-D Secure and its
// authentication reference, or nil.
func (s *Service) pendingCharge(ctx context.Context, q querier, sessionID string, lock bool) (*checkout.Charge, string, error) {
	sql := `SELECT c.id, c.merchant_id, c.session_id, c.token_id, c.amount, c.currency, c.status, c.failure_code,
		c.brand, c.last4, c.exp_month, c.exp_year, c.risk_level, c.risk_decision, c.risk_reasons, c.three_d_secure,
		c.billing_name, c.billing_email, c.created_at, c.authentication_ref
		FROM charges c WHERE c.session_id = $1 AND c.status = 'requires_authentication'`
	if lock {
		sql += ` FOR UPDATE OF c`
	}
	var (
		c   checkout.Charge
		ref string
	)
	err := q.QueryRow(ctx, sql, sessionID).Scan(&c.ID, &c.MerchantID, &c.SessionID, &c.TokenID, &c.Amount,
		&c.Currency, &c.Status, &c.FailureCode, &c.Brand, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.Risk.Level,
		&c.Risk.Decision, &c.Risk.Reasons, &c.ThreeDSecure, &c.BillingName, &c.BillingEmail, &c.Created, &ref)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read pending charge: %w", err)
	}
	return &c, ref, nil
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
