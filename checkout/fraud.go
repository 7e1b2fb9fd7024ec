package checkout

import (
	"fmt"
	"time"
)

// RiskDecision is what the fraud rules decide before a charge.
type RiskDecision string

// Risk decisions.
const (
	// RiskAllow charges the card as is.
	RiskAllow RiskDecision = "allow"
	// RiskChallenge charges only after a successful 3-D Secure challenge.
	RiskChallenge RiskDecision = "challenge"
	// RiskBlock refuses the charge without calling the acquirer.
	RiskBlock RiskDecision = "block"
)

// Risk is the stored outcome of the fraud rules for one charge attempt.
type Risk struct {
	Decision RiskDecision
	// Level is "normal", "elevated" (challenged) or "highest" (blocked),
	// as in the charge object's outcome.
	Level string
	// Reasons name the rules that fired, e.g. "amount_over_threshold".
	Reasons []string
}

// Rule names recorded in Risk.Reasons.
const (
	ReasonBlocklisted         = "card_blocklisted"
	ReasonSessionDeclines     = "session_decline_velocity"
	ReasonCardDeclines        = "card_decline_velocity"
	ReasonIPDeclines          = "ip_decline_velocity"
	ReasonAmountOverThreshold = "amount_over_threshold"
)

// FraudRules are Herald's built-in rules. Zero fields take the defaults.
type FraudRules struct {
	// DeclineLimit blocks a session, card fingerprint or client IP once it has
	// this many declined charges within DeclineWindow. Default 5.
	DeclineLimit int
	// DeclineWindow is the look-back of DeclineLimit. Default 10 minutes.
	DeclineWindow time.Duration
	// ChallengeAmount asks for 3-D Secure at or above this amount in minor
	// units. Default 100000.
	ChallengeAmount int64
}

// WithDefaults returns r with zero fields set to their defaults.
func (r FraudRules) WithDefaults() FraudRules {
	if r.DeclineLimit == 0 {
		r.DeclineLimit = 5
	}
	if r.DeclineWindow == 0 {
		r.DeclineWindow = 10 * time.Minute
	}
	if r.ChallengeAmount == 0 {
		r.ChallengeAmount = 100_000
	}
	return r
}

// RiskSignals are the facts the rules look at, gathered by the caller from
// the vault and the charge history (declines counted within DeclineWindow).
type RiskSignals struct {
	Amount          int64
	Blocklisted     bool
	SessionDeclines int
	CardDeclines    int
	IPDeclines      int
}

// Evaluate applies the rules: any blocking rule wins over a challenge.
func (r FraudRules) Evaluate(s RiskSignals) Risk {
	r = r.WithDefaults()
	var block, challenge []string
	if s.Blocklisted {
		block = append(block, ReasonBlocklisted)
	}
	if s.SessionDeclines >= r.DeclineLimit {
		block = append(block, ReasonSessionDeclines)
	}
	if s.CardDeclines >= r.DeclineLimit {
		block = append(block, ReasonCardDeclines)
	}
	if s.IPDeclines >= r.DeclineLimit {
		block = append(block, ReasonIPDeclines)
	}
	if s.Amount >= r.ChallengeAmount {
		challenge = append(challenge, ReasonAmountOverThreshold)
	}
	switch {
	case len(block) > 0:
		return Risk{Decision: RiskBlock, Level: "highest", Reasons: append(block, challenge...)}
	case len(challenge) > 0:
		return Risk{Decision: RiskChallenge, Level: "elevated", Reasons: challenge}
	}
	return Risk{Decision: RiskAllow, Level: "normal", Reasons: []string{}}
}

// String is for logs: "block (card_blocklisted)".
func (r Risk) String() string { return fmt.Sprintf("%s %v", r.Decision, r.Reasons) }
