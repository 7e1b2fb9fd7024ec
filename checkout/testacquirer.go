package checkout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
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
// It keeps no state. The outcome a 3-D Secure charge will have once
// authenticated travels inside the authentication reference, sealed with an
// HMAC so the page cannot forge it; any process holding the same key can
// finish the charge, which matters when the challenge is answered through a
// different Herald instance than the one that started it.
type TestAcquirer struct {
	key []byte
}

var _ Acquirer = (*TestAcquirer)(nil)

// NewTestAcquirer returns a TestAcquirer sealing references with key.
func NewTestAcquirer(key []byte) *TestAcquirer {
	return &TestAcquirer{key: key}
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
	if req.RequireAuthentication || req.Card.Number() == TestCardThreeDSecure {
		return ChargeResult{Outcome: OutcomeRequiresAuthentication, AuthenticationRef: a.seal(req.ChargeID, code)}, nil
	}
	return result(code), nil
}

// CompleteAuthentication implements Acquirer.
func (a *TestAcquirer) CompleteAuthentication(ctx context.Context, chargeID, ref string, authenticated bool) (ChargeResult, error) {
	if err := ctx.Err(); err != nil {
		return ChargeResult{}, err
	}
	code, ok := a.open(chargeID, ref)
	if !ok {
		return ChargeResult{}, ErrInvalidAuthenticationRef
	}
	if !authenticated {
		return result(DeclineAuthenticationFailed), nil
	}
	return result(code), nil
}

func result(declineCode string) ChargeResult {
	if declineCode == "" {
		return ChargeResult{Outcome: OutcomeSucceeded}
	}
	return ChargeResult{Outcome: OutcomeDeclined, DeclineCode: declineCode}
}

// seal returns "3ds1.<code>.<mac>" binding the deferred outcome to chargeID.
func (a *TestAcquirer) seal(chargeID, code string) string {
	return "3ds1." + code + "." + a.mac(chargeID, code)
}

func (a *TestAcquirer) open(chargeID, ref string) (string, bool) {
	rest, ok := strings.CutPrefix(ref, "3ds1.")
	if !ok {
		return "", false
	}
	code, mac, ok := strings.Cut(rest, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(a.mac(chargeID, code))) {
		return "", false
	}
	return code, true
}

func (a *TestAcquirer) mac(chargeID, code string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte("herald test acquirer 3ds\x00" + chargeID + "\x00" + code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
