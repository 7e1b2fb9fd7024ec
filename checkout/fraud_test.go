package checkout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// t0 is a moment the fraud tests count declines from.
var t0 = time.Date(2026, 12, 1, 14, 20, 0, 0, time.UTC)

// declines returns n decline times a minute apart, the newest at t0.
func declines(n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = t0.Add(-time.Duration(i) * time.Minute)
	}
	return out
}

func TestFraudRulesEvaluate(t *testing.T) {
	t.Parallel()

	rules := FraudRules{}
	// Five declines newest first at 14:20, …, 14:16: the oldest leaves the
	// ten-minute window at 14:26.
	lifts := t0.Add(6 * time.Minute)
	for _, tt := range []struct {
		name     string
		signals  RiskSignals
		decision RiskDecision
		level    string
		reasons  []string
		blocks   []Block
	}{
		{"clean", RiskSignals{Amount: 5000}, RiskAllow, "normal", []string{}, nil},
		{"four session declines", RiskSignals{Amount: 5000, SessionDeclines: declines(4)}, RiskAllow, "normal", []string{}, nil},
		{"blocklisted", RiskSignals{Amount: 5000, Blocklisted: true}, RiskBlock, "highest", []string{ReasonBlocklisted},
			[]Block{{Reason: ReasonBlocklisted}}},
		{"five session declines", RiskSignals{Amount: 5000, SessionDeclines: declines(5)}, RiskBlock, "highest",
			[]string{ReasonSessionDeclines}, []Block{{ReasonSessionDeclines, 5, 10 * time.Minute, lifts}}},
		{"five card declines", RiskSignals{Amount: 5000, CardDeclines: declines(5)}, RiskBlock, "highest",
			[]string{ReasonCardDeclines}, []Block{{ReasonCardDeclines, 5, 10 * time.Minute, lifts}}},
		// More than the limit (two attempts raced, or the limit was
		// lowered): the block lasts until the count falls below the limit,
		// when the fifth newest leaves the window, not the oldest.
		{"seven ip declines", RiskSignals{Amount: 5000, IPDeclines: declines(7)}, RiskBlock, "highest",
			[]string{ReasonIPDeclines}, []Block{{ReasonIPDeclines, 5, 10 * time.Minute, lifts}}},
		{"declines in any order", RiskSignals{Amount: 5000, IPDeclines: []time.Time{t0.Add(-4 * time.Minute), t0,
			t0.Add(-2 * time.Minute), t0.Add(-time.Minute), t0.Add(-3 * time.Minute)}}, RiskBlock, "highest",
			[]string{ReasonIPDeclines}, []Block{{ReasonIPDeclines, 5, 10 * time.Minute, lifts}}},
		{"just under threshold", RiskSignals{Amount: 99_999}, RiskAllow, "normal", []string{}, nil},
		{"at threshold", RiskSignals{Amount: 100_000}, RiskChallenge, "elevated", []string{ReasonAmountOverThreshold}, nil},
		{"block wins over challenge", RiskSignals{Amount: 500_000, Blocklisted: true}, RiskBlock, "highest",
			[]string{ReasonBlocklisted, ReasonAmountOverThreshold}, []Block{{Reason: ReasonBlocklisted}}},
		{"every rule", RiskSignals{Amount: 500_000, Blocklisted: true, SessionDeclines: declines(5), CardDeclines: declines(6),
			IPDeclines: declines(5)[1:]}, RiskBlock, "highest",
			[]string{ReasonBlocklisted, ReasonSessionDeclines, ReasonCardDeclines, ReasonAmountOverThreshold},
			[]Block{{Reason: ReasonBlocklisted}, {ReasonSessionDeclines, 5, 10 * time.Minute, lifts},
				{ReasonCardDeclines, 5, 10 * time.Minute, lifts}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := rules.Evaluate(tt.signals)
			require.Equal(t, tt.decision, got.Decision)
			require.Equal(t, tt.level, got.Level)
			require.Equal(t, tt.reasons, got.Reasons)
			require.Equal(t, tt.blocks, got.Blocks)
		})
	}
}

func TestFraudRulesCustomLimits(t *testing.T) {
	t.Parallel()

	rules := FraudRules{DeclineLimit: 2, DeclineWindow: time.Hour, ChallengeAmount: 10}
	risk := rules.Evaluate(RiskSignals{CardDeclines: declines(2)})
	require.Equal(t, RiskBlock, risk.Decision)
	require.Equal(t, []Block{{ReasonCardDeclines, 2, time.Hour, t0.Add(-time.Minute + time.Hour)}}, risk.Blocks)
	require.Equal(t, RiskChallenge, rules.Evaluate(RiskSignals{Amount: 10}).Decision)
	require.Equal(t, 10*time.Minute, FraudRules{}.WithDefaults().DeclineWindow)
}

func TestRiskLiftsAt(t *testing.T) {
	t.Parallel()

	rules := FraudRules{}
	for _, tt := range []struct {
		name    string
		signals RiskSignals
		want    time.Time
		ok      bool
	}{
		{"allowed", RiskSignals{IPDeclines: declines(4)}, time.Time{}, false},
		{"one velocity block", RiskSignals{IPDeclines: declines(5)}, t0.Add(6 * time.Minute), true},
		// The card's declines are a minute newer: its block ends last.
		{"the latest of two", RiskSignals{IPDeclines: declines(5), CardDeclines: shift(declines(5), time.Minute)},
			t0.Add(7 * time.Minute), true},
		{"the blocklist never lifts", RiskSignals{Blocklisted: true, IPDeclines: declines(5)}, time.Time{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			at, ok := rules.Evaluate(tt.signals).LiftsAt()
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, at)
		})
	}
}

func shift(ts []time.Time, d time.Duration) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.Add(d)
	}
	return out
}

func TestBlockExplanation(t *testing.T) {
	t.Parallel()

	rules := FraudRules{}
	for _, tt := range []struct {
		name    string
		rules   FraudRules
		signals RiskSignals
		want    string
	}{
		{"not blocked", rules, RiskSignals{IPDeclines: declines(4)}, ""},
		{"ip", rules, RiskSignals{IPDeclines: declines(5)},
			"Test mode: blocked by ip_decline_velocity: 5 declines from your network in the last 10 minutes; try again after 14:26 UTC."},
		// 14:26:30 is shown as 14:27: at 14:26 the block still holds.
		{"rounded up to the minute", rules, RiskSignals{SessionDeclines: shift(declines(5), 30*time.Second)},
			"Test mode: blocked by session_decline_velocity: 5 declines on this checkout in the last 10 minutes; try again after 14:27 UTC."},
		{"card", rules, RiskSignals{CardDeclines: declines(5)},
			"Test mode: blocked by card_decline_velocity: 5 declines of this card in the last 10 minutes; try again after 14:26 UTC."},
		{"two rules", rules, RiskSignals{CardDeclines: declines(5), IPDeclines: shift(declines(5), time.Minute)},
			"Test mode: blocked by card_decline_velocity: 5 declines of this card in the last 10 minutes; " +
				"ip_decline_velocity: 5 declines from your network in the last 10 minutes; try again after 14:27 UTC."},
		{"blocklist", rules, RiskSignals{Blocklisted: true},
			"Test mode: blocked by card_blocklisted: this card is on the fraud blocklist; use another card."},
		{"blocklist and ip", rules, RiskSignals{Blocklisted: true, IPDeclines: declines(5)},
			"Test mode: blocked by card_blocklisted: this card is on the fraud blocklist; ip_decline_velocity: 5 declines " +
				"from your network in the last 10 minutes; use another card and try again after 14:26 UTC."},
		{"one decline in an hour", FraudRules{DeclineLimit: 1, DeclineWindow: time.Hour}, RiskSignals{IPDeclines: declines(1)},
			"Test mode: blocked by ip_decline_velocity: 1 decline from your network in the last 1 hour; try again after 15:20 UTC."},
		{"a day-long window says the date", FraudRules{DeclineWindow: 24 * time.Hour}, RiskSignals{IPDeclines: declines(5)},
			"Test mode: blocked by ip_decline_velocity: 5 declines from your network in the last 24 hours; try again after 2026-12-02 14:16 UTC."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, BlockExplanation(tt.rules.Evaluate(tt.signals)))
		})
	}
}

func TestStanding(t *testing.T) {
	t.Parallel()

	rules := FraudRules{}
	require.Equal(t, ScopeVelocity{Scope: ScopeIP, Value: "192.0.2.7", Declines: 3}, rules.Standing(ScopeIP, "192.0.2.7", declines(3)))
	require.Equal(t, ScopeVelocity{Scope: ScopeCard, Value: "fp", Declines: 5, Blocked: true, LiftsAt: t0.Add(6 * time.Minute)},
		rules.Standing(ScopeCard, "fp", declines(6)))
	for _, s := range VelocityScopes {
		require.NotEmpty(t, s.Reason())
	}
	require.Empty(t, VelocityScope("merchant").Reason())
}
