package checkoutpg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/validation"
)

var _ checkout.FraudService = (*Service)(nil)

// riskSignalsSQL reads what the fraud rules weigh, in one round trip: $1
// session, $2 card fingerprint, $3 client IP (NULL for none), $4 start of
// the decline window, $5 the decline limit, $6 to $8 the scopes session,
// card and ip.
//
// For each scope it lists the newest declines, at most the limit (all the
// rules need): failed charges that were not fraud blocks (a blocked
// attempt is not a decline, so retries while blocked never push the block
// further out), within the window and after the scope's latest clearance
// (fraud_clearances; the IP's value is host(client_ip), as ClearVelocity
// writes it). 'failed' and 'block' are written out, not passed as
// arguments: the partial indexes charges_declined_fingerprint and
// charges_declined_ip serve the lists only when the query repeats their
// predicate literally (plans_test.go checks both).
const riskSignalsSQL = `SELECT
	EXISTS (SELECT 1 FROM card_blocklist WHERE fingerprint = $2),
	ARRAY(SELECT created_at FROM charges WHERE session_id = $1 AND status = 'failed' AND risk_decision <> 'block'
		AND created_at > greatest($4, (SELECT max(cleared_at) FROM fraud_clearances WHERE scope = $6 AND value = $1))
		ORDER BY created_at DESC LIMIT $5),
	ARRAY(SELECT created_at FROM charges WHERE card_fingerprint = $2 AND status = 'failed' AND risk_decision <> 'block'
		AND created_at > greatest($4, (SELECT max(cleared_at) FROM fraud_clearances WHERE scope = $7 AND value = $2))
		ORDER BY created_at DESC LIMIT $5),
	ARRAY(SELECT created_at FROM charges WHERE client_ip = $3 AND status = 'failed' AND risk_decision <> 'block'
		AND created_at > greatest($4, (SELECT max(cleared_at) FROM fraud_clearances WHERE scope = $8 AND value = host($3)))
		ORDER BY created_at DESC LIMIT $5)`

// riskSignals gathers what the fraud rules look at (all but the amount).
func (s *Service) riskSignals(ctx context.Context, q querier, sessionID, fingerprint string, ip netip.Addr, now time.Time) (checkout.RiskSignals, error) {
	var (
		sig   checkout.RiskSignals
		ipArg *netip.Addr
	)
	if ip.IsValid() {
		ipArg = &ip
	}
	rules := s.cfg.FraudRules
	err := q.QueryRow(ctx, riskSignalsSQL, sessionID, fingerprint, ipArg, now.Add(-rules.DeclineWindow), rules.DeclineLimit,
		checkout.ScopeSession, checkout.ScopeCard, checkout.ScopeIP).
		Scan(&sig.Blocklisted, &sig.SessionDeclines, &sig.CardDeclines, &sig.IPDeclines)
	if err != nil {
		return sig, fmt.Errorf("read risk signals: %w", err)
	}
	return sig, nil
}

// scopeValues are what a charge's velocity scopes count by.
type scopeValues struct {
	session, fingerprint string
	ip                   netip.Addr
	// ipText is host(client_ip), as clearances store it ("" for none).
	ipText string
}

func (v scopeValues) of(scope checkout.VelocityScope) string {
	switch scope {
	case checkout.ScopeSession:
		return v.session
	case checkout.ScopeCard:
		return v.fingerprint
	case checkout.ScopeIP:
		return v.ipText
	}
	return ""
}

// chargeScopes reads a charge's session, card fingerprint and client IP.
func (s *Service) chargeScopes(ctx context.Context, merchantID, chargeID string) (scopeValues, error) {
	var (
		v  scopeValues
		ip *netip.Addr
	)
	err := s.pool.QueryRow(ctx, `SELECT session_id, card_fingerprint, client_ip, COALESCE(host(client_ip), '')
		FROM charges WHERE id = $1 AND merchant_id = $2`, chargeID, merchantID).Scan(&v.session, &v.fingerprint, &ip, &v.ipText)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, checkout.ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("read charge: %w", err)
	}
	if ip != nil {
		v.ip = *ip
	}
	return v, nil
}

// Velocity implements checkout.FraudService, with the query the next
// payment attempt runs: what it shows is what the rules will see.
func (s *Service) Velocity(ctx context.Context, merchantID, chargeID string) (*checkout.Velocity, error) {
	v, err := s.chargeScopes(ctx, merchantID, chargeID)
	if err != nil {
		return nil, err
	}
	return s.velocity(ctx, v)
}

func (s *Service) velocity(ctx context.Context, v scopeValues) (*checkout.Velocity, error) {
	now := s.cfg.Now()
	sig, err := s.riskSignals(ctx, s.pool, v.session, v.fingerprint, v.ip, now)
	if err != nil {
		return nil, err
	}
	rules := s.cfg.FraudRules
	out := &checkout.Velocity{At: now, Limit: rules.DeclineLimit, Window: rules.DeclineWindow, Blocklisted: sig.Blocklisted}
	for _, scope := range checkout.VelocityScopes {
		value := v.of(scope)
		if value == "" {
			continue
		}
		standing := rules.Standing(scope, value, sig.Declines(scope))
		var (
			at *time.Time
			by string
		)
		err := s.pool.QueryRow(ctx, `SELECT cleared_at, operator FROM fraud_clearances WHERE scope = $1 AND value = $2
			ORDER BY cleared_at DESC LIMIT 1`, scope, value).Scan(&at, &by)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("read clearance: %w", err)
		default:
			standing.ClearedAt, standing.ClearedBy = at, by
		}
		out.Scopes = append(out.Scopes, standing)
	}
	return out, nil
}

// ClearVelocity implements checkout.FraudService.
func (s *Service) ClearVelocity(ctx context.Context, merchantID, chargeID string, scope checkout.VelocityScope, operator string) (*checkout.Velocity, error) {
	if scope.Reason() == "" {
		return nil, &validation.Error{Param: "scope", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("unknown scope %q: want session, card or ip", scope)}
	}
	v, err := s.chargeScopes(ctx, merchantID, chargeID)
	if err != nil {
		return nil, err
	}
	value := v.of(scope)
	if value == "" {
		return nil, &validation.Error{Param: "scope", Code: validation.CodeInvalid,
			Message: "charge " + chargeID + " has no client IP, so there is no IP block to clear"}
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO fraud_clearances (scope, value, cleared_at, operator) VALUES ($1, $2, $3, $4)`,
		scope, value, s.cfg.Now(), operator)
	if err != nil {
		return nil, fmt.Errorf("record clearance: %w", err)
	}
	s.cfg.Logger.InfoContext(ctx, "velocity block cleared", "scope", scope, "charge_id", chargeID, "operator", operator)
	return s.velocity(ctx, v)
}
