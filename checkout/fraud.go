package checkout

import (
	"fmt"
	"slices"
	"strings"
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
	// RiskBlock refuses the charge without calling the acquirer. A blocked
	// attempt is stored as a failed charge (failure code "fraudulent") but
	// is not a decline: the velocity rules do not count it.
	RiskBlock RiskDecision = "block"
)

// Risk is the outcome of the fraud rules for one charge attempt.
type Risk struct {
	Decision RiskDecision
	// Level is "normal", "elevated" (challenged) or "highest" (blocked),
	// as in the charge object's outcome.
	Level string
	// Reasons name the rules that fired, e.g. "amount_over_threshold".
	Reasons []string
	// Blocks says, for a blocked attempt, why each blocking rule fired and
	// when it lets go. It is worked out with the decision and not stored:
	// a stored charge has its Reasons only.
	Blocks []Block
}

// Block is one blocking rule that fired.
type Block struct {
	// Reason is the rule, one of the Reason… names.
	Reason string
	// Declines is what a velocity rule counted within Window (0 for the
	// blocklist).
	Declines int
	Window   time.Duration
	// LiftsAt is when a velocity block ends: when the oldest of the
	// declines that make it leaves the window. Blocked attempts are not
	// declines, so retries never push it further. Zero for the blocklist,
	// which does not lift by itself.
	LiftsAt time.Time
}

// LiftsAt is when a blocked attempt could next go through, as far as the
// rules that fired say: the latest of its velocity blocks' ends. ok is
// false when the attempt was not blocked or a rule that fired never lifts
// by itself (the blocklist).
func (r Risk) LiftsAt() (at time.Time, ok bool) {
	if r.Decision != RiskBlock || len(r.Blocks) == 0 {
		return time.Time{}, false
	}
	for _, b := range r.Blocks {
		if b.LiftsAt.IsZero() {
			return time.Time{}, false
		}
		if b.LiftsAt.After(at) {
			at = b.LiftsAt
		}
	}
	return at, true
}

// Rule names recorded in Risk.Reasons.
const (
	ReasonBlocklisted         = "card_blocklisted"
	ReasonSessionDeclines     = "session_decline_velocity"
	ReasonCardDeclines        = "card_decline_velocity"
	ReasonIPDeclines          = "ip_decline_velocity"
	ReasonAmountOverThreshold = "amount_over_threshold"
)

// VelocityScope is what a velocity rule counts declines by.
type VelocityScope string

// Velocity scopes.
const (
	// ScopeSession counts the declines of one checkout session.
	ScopeSession VelocityScope = "session"
	// ScopeCard counts the declines of one card (its fingerprint), across
	// merchants.
	ScopeCard VelocityScope = "card"
	// ScopeIP counts the declines from one client address, across
	// merchants.
	ScopeIP VelocityScope = "ip"
)

// VelocityScopes lists every scope, in the order pages show them.
var VelocityScopes = []VelocityScope{ScopeSession, ScopeCard, ScopeIP}

// Reason is the rule that counts declines by s.
func (s VelocityScope) Reason() string {
	switch s {
	case ScopeSession:
		return ReasonSessionDeclines
	case ScopeCard:
		return ReasonCardDeclines
	case ScopeIP:
		return ReasonIPDeclines
	}
	return ""
}

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
// the vault and the charge history.
type RiskSignals struct {
	Amount      int64
	Blocklisted bool
	// SessionDeclines, CardDeclines and IPDeclines are the times of the
	// declines that count against the session, the card fingerprint and
	// the client IP: those within DeclineWindow and after the scope's
	// latest clearance by an operator, blocked attempts left out. The
	// newest DeclineLimit of each are all the rules need.
	SessionDeclines []time.Time
	CardDeclines    []time.Time
	IPDeclines      []time.Time
}

// Declines returns the declines counted against scope.
func (s RiskSignals) Declines(scope VelocityScope) []time.Time {
	switch scope {
	case ScopeSession:
		return s.SessionDeclines
	case ScopeCard:
		return s.CardDeclines
	case ScopeIP:
		return s.IPDeclines
	}
	return nil
}

// Velocity says whether declines (as in RiskSignals) block their scope
// and, if so, when the block lifts: when the DeclineLimit-th newest
// decline leaves the window, the count falls below the limit.
func (r FraudRules) Velocity(declines []time.Time) (blocked bool, liftsAt time.Time) {
	r = r.WithDefaults()
	if len(declines) < r.DeclineLimit {
		return false, time.Time{}
	}
	newest := slices.Clone(declines)
	slices.SortFunc(newest, func(a, b time.Time) int { return b.Compare(a) })
	return true, newest[r.DeclineLimit-1].Add(r.DeclineWindow)
}

// Evaluate applies the rules: any blocking rule wins over a challenge.
func (r FraudRules) Evaluate(s RiskSignals) Risk {
	r = r.WithDefaults()
	var (
		blocks    []Block
		challenge []string
	)
	if s.Blocklisted {
		blocks = append(blocks, Block{Reason: ReasonBlocklisted})
	}
	for _, scope := range VelocityScopes {
		declines := s.Declines(scope)
		if blocked, liftsAt := r.Velocity(declines); blocked {
			blocks = append(blocks, Block{Reason: scope.Reason(), Declines: min(len(declines), r.DeclineLimit),
				Window: r.DeclineWindow, LiftsAt: liftsAt})
		}
	}
	if s.Amount >= r.ChallengeAmount {
		challenge = append(challenge, ReasonAmountOverThreshold)
	}
	switch {
	case len(blocks) > 0:
		reasons := make([]string, 0, len(blocks)+len(challenge))
		for _, b := range blocks {
			reasons = append(reasons, b.Reason)
		}
		return Risk{Decision: RiskBlock, Level: "highest", Reasons: append(reasons, challenge...), Blocks: blocks}
	case len(challenge) > 0:
		return Risk{Decision: RiskChallenge, Level: "elevated", Reasons: challenge}
	}
	return Risk{Decision: RiskAllow, Level: "normal", Reasons: []string{}}
}

// String is for logs: "block [card_blocklisted]".
func (r Risk) String() string { return fmt.Sprintf("%s %v", r.Decision, r.Reasons) }

// BlockExplanation tells a customer in test mode which rule blocked their
// payment and when they may try again, e.g. "Test mode: blocked by
// ip_decline_velocity: 5 declines from your network in the last 10
// minutes; try again after 14:32 UTC." The time is rounded up to the
// minute, so the block has lifted by then. It is "" for a risk without
// blocks.
//
// Only test mode may say this (Herald has no other: see
// account.KeyPrefix): live, naming the rule would help a fraudster, and a
// block reads like a decline (DeclineMessage).
func BlockExplanation(r Risk) string {
	if len(r.Blocks) == 0 {
		return ""
	}
	parts := make([]string, 0, len(r.Blocks))
	blocklisted := false
	for _, b := range r.Blocks {
		var why string
		switch b.Reason {
		case ReasonBlocklisted:
			blocklisted = true
			why = "this card is on the fraud blocklist"
		case ReasonSessionDeclines:
			why = declinesIn(b, "on this checkout")
		case ReasonCardDeclines:
			why = declinesIn(b, "of this card")
		case ReasonIPDeclines:
			why = declinesIn(b, "from your network")
		default:
			why = "a fraud rule"
		}
		parts = append(parts, b.Reason+": "+why)
	}
	var then []string
	if blocklisted {
		then = append(then, "use another card")
	}
	var latest time.Time
	for _, b := range r.Blocks {
		if b.LiftsAt.After(latest) {
			latest = b.LiftsAt
		}
	}
	if !latest.IsZero() {
		then = append(then, "try again after "+clockTime(latest, r.Blocks))
	}
	return "Test mode: blocked by " + strings.Join(parts, "; ") + "; " + strings.Join(then, " and ") + "."
}

// declinesIn is "5 declines from your network in the last 10 minutes".
func declinesIn(b Block, where string) string {
	noun := "declines"
	if b.Declines == 1 {
		noun = "decline"
	}
	return fmt.Sprintf("%d %s %s in the last %s", b.Declines, noun, where, spell(b.Window))
}

// spell writes a window the way people say it: "10 minutes", "1 hour".
func spell(d time.Duration) string {
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %ss", n, one)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	}
	return d.String()
}

// clockTime shows t in UTC rounded up to the minute, with the date when
// the windows are long enough for it to be another day.
func clockTime(t time.Time, blocks []Block) string {
	t = t.UTC()
	if r := t.Truncate(time.Minute); !r.Equal(t) {
		t = r.Add(time.Minute)
	}
	for _, b := range blocks {
		if b.Window >= 12*time.Hour {
			return t.Format("2006-01-02 15:04 UTC")
		}
	}
	return t.Format("15:04 UTC")
}

// Velocity is where a charge's session, card and client IP stand against
// the velocity rules at one moment: what an operator looks at before
// lifting a block.
type Velocity struct {
	At     time.Time
	Limit  int
	Window time.Duration
	// Blocklisted is set when the card is on the blocklist, which no
	// clearance lifts.
	Blocklisted bool
	// Scopes are the session, the card and the client IP, in that order;
	// the IP is left out when the charge has none.
	Scopes []ScopeVelocity
}

// ScopeVelocity is one scope's standing.
type ScopeVelocity struct {
	Scope VelocityScope
	// Value is what the scope counts by: the session id, the card's
	// fingerprint or the client IP.
	Value string
	// Declines is how many declines count against it now (at most the
	// limit: no more are needed to block).
	Declines int
	Blocked  bool
	// LiftsAt is when a block ends by itself.
	LiftsAt time.Time
	// ClearedAt and ClearedBy are the latest clearance by an operator, if
	// any: declines before it do not count.
	ClearedAt *time.Time
	ClearedBy string
}

// Standing is the standing of a scope whose counted declines are these.
func (r FraudRules) Standing(scope VelocityScope, value string, declines []time.Time) ScopeVelocity {
	r = r.WithDefaults()
	blocked, liftsAt := r.Velocity(declines)
	return ScopeVelocity{Scope: scope, Value: value, Declines: min(len(declines), r.DeclineLimit), Blocked: blocked, LiftsAt: liftsAt}
}
