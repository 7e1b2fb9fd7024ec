package checkoutpg

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/validation"
)

// payFrom pays a session with a test card from the client address ip.
func (b *testBundle) payFrom(t *testing.T, sessionID, number, ip string) *checkout.PayResult {
	t.Helper()
	card, err := checkout.ParseCard(number, "12/40", "123", b.clock.Now())
	require.NoError(t, err)
	var addr netip.Addr
	if ip != "" {
		addr = netip.MustParseAddr(ip)
	}
	res, err := b.svc.Pay(context.Background(), checkout.PayRequest{
		SessionID: sessionID, Card: card, CardholderName: "Jo Doe", Email: "jo@shop.test", ClientIP: addr,
	})
	require.NoError(t, err)
	return res
}

// declineFrom makes n declines from ip, each on a fresh session with
// another decline card, a minute apart, and returns the last charge.
func (b *testBundle) declineFrom(t *testing.T, ip string, n int) *checkout.Charge {
	t.Helper()
	cards := []string{checkout.TestCardDeclined, checkout.TestCardInsufficientFunds, checkout.TestCardExpired,
		checkout.TestCardIncorrectCVC}
	var last *checkout.Charge
	for i := range n {
		res := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, cards[i%len(cards)], ip)
		require.Equal(t, checkout.OutcomeDeclined, res.Outcome)
		require.NotEqual(t, checkout.DeclineFraudulent, res.Charge.FailureCode, "decline %d is a decline, not a block", i+1)
		last = res.Charge
		b.clock.Advance(time.Minute)
	}
	return last
}

// clearVelocity clears the scope of the merchant's charge chargeID as the
// operator Ada, and returns the velocity after the clearance.
func (b *testBundle) clearVelocity(t *testing.T, chargeID string, scope checkout.VelocityScope) *checkout.Velocity {
	t.Helper()
	v, err := b.svc.ClearVelocity(context.Background(), b.merchant, chargeID, scope, "Ada")
	require.NoError(t, err)
	return v
}

// The README's six decline cards from one address: the fifth decline
// blocks the address, 4242 included, until the first of them is ten
// minutes old. Retrying while blocked changes nothing: a blocked attempt is
// not a decline, so the block ends when it said it would, and the attempt
// after that goes through.
func TestBlockedAttemptsAreNotDeclines(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	first := b.clock.Now()
	b.declineFrom(t, "192.0.2.7", 5)
	liftsAt := first.Add(10 * time.Minute)

	for range 4 {
		res := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardVisa, "192.0.2.7")
		require.Equal(t, checkout.DeclineFraudulent, res.Charge.FailureCode)
		require.Equal(t, []string{checkout.ReasonIPDeclines}, res.Charge.Risk.Reasons)
		require.Equal(t, []checkout.Block{{Reason: checkout.ReasonIPDeclines, Declines: 5, Window: 10 * time.Minute,
			LiftsAt: liftsAt}}, res.Charge.Risk.Blocks, "retries do not push the block out")
		b.clock.Advance(time.Minute)
	}
	// The blocked attempts are stored, and stay failed with their reasons.
	var blocked int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE risk_decision = 'block'
		AND failure_code = 'fraudulent' AND status = 'failed' AND 'ip_decline_velocity' = ANY(risk_reasons)`).Scan(&blocked))
	require.Equal(t, 4, blocked)

	b.clock.Advance(liftsAt.Sub(b.clock.Now()) - time.Second)
	res := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardVisa, "192.0.2.7")
	require.Equal(t, checkout.DeclineFraudulent, res.Charge.FailureCode, "a second before it lifts")
	b.clock.Advance(time.Second)
	res = b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardVisa, "192.0.2.7")
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome, "when it said it would")

	// Another address was never blocked.
	res = b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardVisa, "198.51.100.1")
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
}

// The blocklisted test card is a block, not a decline: paying with it over
// and over blocks neither the address nor the session.
func TestBlocklistedCardIsNotADecline(t *testing.T) {
	t.Parallel()

	b := setup(t)
	sess := b.createSession(t, b.merchant, 1000)
	for range 6 {
		res := b.payFrom(t, sess.ID, checkout.TestCardFraudulent, "192.0.2.7")
		require.Equal(t, []string{checkout.ReasonBlocklisted}, res.Charge.Risk.Reasons)
	}
	res := b.payFrom(t, sess.ID, checkout.TestCardVisa, "192.0.2.7")
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
}

// An operator's clearance lifts a scope's block at once: the declines
// before it stop counting, later ones count again. Each scope is cleared
// on its own.
func TestClearVelocity(t *testing.T) {
	t.Parallel()

	t.Run("IP", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b := setup(t)
		last := b.declineFrom(t, "192.0.2.7", 5)
		v, err := b.svc.Velocity(ctx, b.merchant, last.ID)
		require.NoError(t, err)
		require.Equal(t, b.clock.Now(), v.At)
		require.Equal(t, 5, v.Limit)
		require.Equal(t, 10*time.Minute, v.Window)
		require.False(t, v.Blocklisted)
		require.Len(t, v.Scopes, 3)
		require.Equal(t, checkout.ScopeVelocity{Scope: checkout.ScopeSession, Value: last.SessionID, Declines: 1}, v.Scopes[0])
		require.Equal(t, checkout.ScopeCard, v.Scopes[1].Scope)
		require.Equal(t, 2, v.Scopes[1].Declines, "the fifth card is the first's again")
		require.Equal(t, checkout.ScopeVelocity{Scope: checkout.ScopeIP, Value: "192.0.2.7", Declines: 5, Blocked: true,
			LiftsAt: b.clock.Now().Add(5 * time.Minute)}, v.Scopes[2])

		v = b.clearVelocity(t, last.ID, checkout.ScopeIP)
		now := b.clock.Now()
		require.Equal(t, checkout.ScopeVelocity{Scope: checkout.ScopeIP, Value: "192.0.2.7", ClearedAt: &now, ClearedBy: "Ada"},
			withLocal(v.Scopes[2]))
		require.Equal(t, 1, v.Scopes[0].Declines, "the session's count is its own")

		b.clock.Advance(time.Second)
		res := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardVisa, "192.0.2.7")
		require.Equal(t, checkout.OutcomeSucceeded, res.Outcome, "lifted at once")
		b.declineFrom(t, "192.0.2.7", 4)
		res = b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardDeclined, "192.0.2.7")
		require.Equal(t, checkout.DeclineCardDeclined, res.Charge.FailureCode, "four declines since: not blocked")
		res = b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardVisa, "192.0.2.7")
		require.Equal(t, []string{checkout.ReasonIPDeclines}, res.Charge.Risk.Reasons, "five since the clearance block again")
	})

	t.Run("Card", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		var last *checkout.Charge
		for i := range 5 {
			// One card from five addresses: only the card is blocked.
			res := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardInsufficientFunds, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String())
			last = res.Charge
		}
		res := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardInsufficientFunds, "203.0.113.1")
		require.Equal(t, []string{checkout.ReasonCardDeclines}, res.Charge.Risk.Reasons)

		b.clearVelocity(t, last.ID, checkout.ScopeCard)
		res = b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardInsufficientFunds, "203.0.113.1")
		require.Equal(t, checkout.DeclineInsufficientFunds, res.Charge.FailureCode, "the card reaches the acquirer again")
	})

	t.Run("Session", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		sess := b.createSession(t, b.merchant, 1000)
		var last *checkout.PayResult
		for i := range 5 {
			last = b.payFrom(t, sess.ID, checkout.TestCardDeclined, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String())
		}
		res := b.payFrom(t, sess.ID, checkout.TestCardVisa, "203.0.113.1")
		require.Equal(t, []string{checkout.ReasonSessionDeclines}, res.Charge.Risk.Reasons)
		b.clearVelocity(t, last.Charge.ID, checkout.ScopeSession)
		res = b.payFrom(t, sess.ID, checkout.TestCardVisa, "203.0.113.1")
		require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
	})

	t.Run("ClearingOneScopeLeavesTheOthers", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		sess := b.createSession(t, b.merchant, 1000)
		var last *checkout.PayResult
		for range 5 {
			last = b.payFrom(t, sess.ID, checkout.TestCardDeclined, "192.0.2.7")
		}
		b.clearVelocity(t, last.Charge.ID, checkout.ScopeIP)
		res := b.payFrom(t, sess.ID, checkout.TestCardDeclined, "192.0.2.7")
		require.Equal(t, []string{checkout.ReasonSessionDeclines, checkout.ReasonCardDeclines}, res.Charge.Risk.Reasons)
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()

		ctx := context.Background()
		b := setup(t)
		withIP := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardDeclined, "192.0.2.7").Charge
		withoutIP := b.payFrom(t, b.createSession(t, b.merchant, 1000).ID, checkout.TestCardDeclined, "").Charge
		other := b.newMerchant(t, "Other")

		_, err := b.svc.Velocity(ctx, other, withIP.ID)
		require.ErrorIs(t, err, checkout.ErrNotFound, "another merchant's charge is unknown")
		_, err = b.svc.ClearVelocity(ctx, other, withIP.ID, checkout.ScopeIP, "Ada")
		require.ErrorIs(t, err, checkout.ErrNotFound)
		_, err = b.svc.ClearVelocity(ctx, b.merchant, "ch_missing", checkout.ScopeIP, "Ada")
		require.ErrorIs(t, err, checkout.ErrNotFound)

		var verr *validation.Error
		_, err = b.svc.ClearVelocity(ctx, b.merchant, withIP.ID, "merchant", "Ada")
		require.ErrorAs(t, err, &verr)
		require.Equal(t, "scope", verr.Param)
		_, err = b.svc.ClearVelocity(ctx, b.merchant, withoutIP.ID, checkout.ScopeIP, "Ada")
		require.ErrorAs(t, err, &verr)
		require.Contains(t, verr.Message, "has no client IP")

		v, err := b.svc.Velocity(ctx, b.merchant, withoutIP.ID)
		require.NoError(t, err)
		require.Len(t, v.Scopes, 2, "no IP, no IP scope")
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM fraud_clearances`).Scan(&n))
		require.Zero(t, n, "nothing recorded by a refused clearance")
	})
}

// withLocal returns s with ClearedAt in the local zone, as the clock's.
func withLocal(s checkout.ScopeVelocity) checkout.ScopeVelocity {
	if s.ClearedAt != nil {
		at := s.ClearedAt.Local()
		s.ClearedAt = &at
	}
	return s
}
