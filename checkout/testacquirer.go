package checkout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/heraldpay/herald/internal/seal"
)

// ErrInvalidAuthenticationRef is returned by CompleteAuthentication for a
// reference that was not issued for the charge.
var ErrInvalidAuthenticationRef = errors.New("invalid authentication reference")

// Test card numbers understood by TestAcquirer (and, for
// TestCardFraudulent, by the fraud blocklist Herald seeds at start).
const (
	TestCardVisa              = "4242424242424242"
	TestCardMastercard        = "5555555555554444"
	TestCardDeclined          = "4000000000000002"
	TestCardInsufficientFunds = "4000000000009995"
	TestCardExpired           = "4000000000000069"
	TestCardIncorrectCVC      = "4000000000000127"
	TestCardThreeDSecure      = "4000002760003184"
	TestCardFraudulent        = "4100000000000019"
	testCardAmex              = "378282246310005"
	testCardDiscover          = "6011111111111117"
	testCardJCB               = "3566002020360505"
	testCardDiners            = "3056930009020004"
	testCardUnionPay          = "6200000000000005"
)

// testCardOutcomes maps each test card to its decline code ("" succeeds).
var testCardOutcomes = map[string]string{
	TestCardVisa:              "",
	TestCardMastercard:        "",
	testCardAmex:              "",
	testCardDiscover:          "",
	testCardJCB:               "",
	testCardDiners:            "",
	testCardUnionPay:          "",
	TestCardThreeDSecure:      "",
	TestCardFraudulent:        "", // stopped by the blocklist before it gets here
	TestCardDeclined:          DeclineCardDeclined,
	TestCardInsufficientFunds: DeclineInsufficientFunds,
	TestCardExpired:           DeclineExpiredCard,
	TestCardIncorrectCVC:      DeclineIncorrectCVC,
}

// TestAcquirer is Herald's simulated card network: deterministic by card
// number (see the test cards in the README), so the whole payment flow can
// be exercised without a real network. Any other number is declined with
// test_mode_live_card.
//
// It keeps a ledger of every charge by charge id and honours that id as an
// idempotency key, as a real network does: charging a known id again moves
// no money and answers what the first call answered, whatever card comes
// with it. The ledger is what Herald reconciles against (Lookup, Void) when
// it could not record an answer. With a ledger in Postgres, any Herald
// process can finish a 3-D Secure challenge another one started.
type TestAcquirer struct {
	key      []byte
	previous [][]byte
	ledger   Ledger
}

var _ Acquirer = (*TestAcquirer)(nil)

// NewTestAcquirer returns a TestAcquirer keeping its book in ledger and
// signing 3-D Secure references with key. References signed with a
// previous key are accepted too: those handed out before a key rotation.
func NewTestAcquirer(key []byte, ledger Ledger, previous ...[]byte) *TestAcquirer {
	return &TestAcquirer{key: key, previous: previous, ledger: ledger}
}

// Charge implements Acquirer.
func (a *TestAcquirer) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	if err := ctx.Err(); err != nil {
		return ChargeResult{}, err
	}
	code, known := testCardOutcomes[req.Card.Number()]
	if !known {
		code = DeclineTestModeLiveCard
	}
	e := LedgerEntry{ChargeID: req.ChargeID, Amount: req.Amount, Currency: req.Currency}
	switch {
	case req.RequireAuthentication || req.Card.Number() == TestCardThreeDSecure:
		e.Status, e.DeferredCode = LedgerRequiresAuthentication, code
	case code == "":
		e.Status = LedgerApproved
	default:
		e.Status, e.DeclineCode = LedgerDeclined, code
	}
	stored, err := a.ledger.Open(ctx, e)
	if err != nil {
		return ChargeResult{}, fmt.Errorf("test acquirer ledger: %w", err)
	}
	return a.result(stored), nil
}

// CompleteAuthentication implements Acquirer. Completing a charge that is
// no longer waiting answers its recorded outcome again.
func (a *TestAcquirer) CompleteAuthentication(ctx context.Context, chargeID, ref string, authenticated bool) (ChargeResult, error) {
	if err := ctx.Err(); err != nil {
		return ChargeResult{}, err
	}
	if !a.refValid(ref, chargeID) {
		return ChargeResult{}, ErrInvalidAuthenticationRef
	}
	e, err := a.ledger.Entry(ctx, chargeID)
	if errors.Is(err, ErrUnknownCharge) {
		return ChargeResult{}, ErrInvalidAuthenticationRef
	}
	if err != nil {
		return ChargeResult{}, fmt.Errorf("test acquirer ledger: %w", err)
	}
	if e.Status != LedgerRequiresAuthentication {
		return a.result(e), nil
	}
	to, code := LedgerApproved, e.DeferredCode
	switch {
	case !authenticated:
		to, code = LedgerDeclined, DeclineAuthenticationFailed
	case code != "":
		to = LedgerDeclined
	}
	e, err = a.ledger.Move(ctx, chargeID, []LedgerStatus{LedgerRequiresAuthentication}, to, code)
	if err != nil {
		return ChargeResult{}, fmt.Errorf("test acquirer ledger: %w", err)
	}
	return a.result(e), nil
}

// Lookup implements Acquirer.
func (a *TestAcquirer) Lookup(ctx context.Context, chargeID string) (ChargeResult, error) {
	e, err := a.ledger.Entry(ctx, chargeID)
	if err != nil {
		return ChargeResult{}, err
	}
	return a.result(e), nil
}

// Void implements Acquirer.
func (a *TestAcquirer) Void(ctx context.Context, chargeID string) error {
	// A tombstone for an id never seen; a no-op for a known one.
	if _, err := a.ledger.Open(ctx, LedgerEntry{ChargeID: chargeID, Status: LedgerVoided}); err != nil {
		return fmt.Errorf("test acquirer ledger: %w", err)
	}
	_, err := a.ledger.Move(ctx, chargeID, []LedgerStatus{LedgerApproved, LedgerRequiresAuthentication}, LedgerVoided, "")
	if err != nil {
		return fmt.Errorf("test acquirer ledger: %w", err)
	}
	return nil
}

// result is what the acquirer answers for a ledger entry.
func (a *TestAcquirer) result(e LedgerEntry) ChargeResult {
	switch e.Status {
	case LedgerApproved:
		return ChargeResult{Outcome: OutcomeSucceeded}
	case LedgerRequiresAuthentication:
		return ChargeResult{Outcome: OutcomeRequiresAuthentication, AuthenticationRef: a.ref(e.ChargeID)}
	case LedgerVoided:
		return ChargeResult{Outcome: OutcomeVoided}
	}
	return ChargeResult{Outcome: OutcomeDeclined, DeclineCode: e.DeclineCode}
}

// ref is the 3-D Secure reference of chargeID: an HMAC binding it to the
// charge, so the page can neither forge one nor use one charge's for
// another. What the charge becomes once authenticated is in the ledger.
func (a *TestAcquirer) ref(chargeID string) string { return signRef(a.key, chargeID) }

// refValid reports whether ref is chargeID's reference under the current
// key or a previous one.
func (a *TestAcquirer) refValid(ref, chargeID string) bool {
	return seal.ValidMAC(ref, func(key []byte) string { return signRef(key, chargeID) }, a.key, a.previous)
}

func signRef(key []byte, chargeID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("herald test acquirer 3ds\x00" + chargeID))
	return "3ds2." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
