package checkout

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFraudRulesEvaluate(t *testing.T) {
	t.Parallel()

	rules := FraudRules{}
	for _, tt := range []struct {
		name     string
		signals  RiskSignals
		decision RiskDecision
		level    string
		reasons  []string
	}{
		{"clean", RiskSignals{Amount: 5000}, RiskAllow, "normal", []string{}},
		{"four session declines", RiskSignals{Amount: 5000, SessionDeclines: 4}, RiskAllow, "normal", []string{}},
		{"blocklisted", RiskSignals{Amount: 5000, Blocklisted: true}, RiskBlock, "highest", []string{ReasonBlocklisted}},
		{"five session declines", RiskSignals{Amount: 5000, SessionDeclines: 5}, RiskBlock, "highest", []string{ReasonSessionDeclines}},
		{"five card declines", RiskSignals{Amount: 5000, CardDeclines: 5}, RiskBlock, "highest", []string{ReasonCardDeclines}},
		{"five ip declines", RiskSignals{Amount: 5000, IPDeclines: 7}, RiskBlock, "highest", []string{ReasonIPDeclines}},
		{"just under threshold", RiskSignals{Amount: 99_999}, RiskAllow, "normal", []string{}},
		{"at threshold", RiskSignals{Amount: 100_000}, RiskChallenge, "elevated", []string{ReasonAmountOverThreshold}},
		{"block wins over challenge", RiskSignals{Amount: 500_000, Blocklisted: true}, RiskBlock, "highest",
			[]string{ReasonBlocklisted, ReasonAmountOverThreshold}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			got := rules.Evaluate(tt.signals)
			require.Equal(t, tt.decision, got.Decision)
			require.Equal(t, tt.level, got.Level)
			require.Equal(t, tt.reasons, got.Reasons)
		})
	}
}

func TestFraudRulesCustomLimits(t *testing.T) {
	t.Parallel()

	rules := FraudRules{DeclineLimit: 2, ChallengeAmount: 10}
	require.Equal(t, RiskBlock, rules.Evaluate(RiskSignals{CardDeclines: 2}).Decision)
	require.Equal(t, RiskChallenge, rules.Evaluate(RiskSignals{Amount: 10}).Decision)
	require.Equal(t, 10*time.Minute, rules.WithDefaults().DeclineWindow)
}
