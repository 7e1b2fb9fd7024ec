package checkout

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Card is a card as typed on the payment page. It lives in memory for the
// duration of one charge call and nowhere else: every way of printing,
// logging or marshalling it shows only the brand and last four digits.
type Card struct {
	number   string // digits only
	cvc      string
	ExpMonth int
	ExpYear  int // four digits
	Brand    string
}

// CardError is an invalid card field, shown inline next to the field.
type CardError struct {
	Field   string // the form field: card_number, card_expiry or card_cvc
	Code    string
	Message string
}

// Error implements error. It never contains the card number.
func (e *CardError) Error() string { return e.Field + ": " + e.Message }

// Card field error codes.
const (
	CodeIncompleteNumber = "incomplete_number"
	CodeInvalidNumber    = "invalid_number"
	CodeInvalidExpiry    = "invalid_expiry"
	CodeExpiredCard      = "expired_card"
	CodeInvalidCVC       = "invalid_cvc"
)

// ParseCard validates what the customer typed: the number (spaces and
// dashes allowed, 12–19 digits, Luhn check), the expiry (MM/YY, MM / YY,
// MM/YYYY or MMYY, this month or later, at most 20 years ahead) and the CVC
// (3 digits, 4 for American Express).
func ParseCard(number, expiry, cvc string, now time.Time) (Card, error) {
	var c Card
	c.number = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(number))
	switch {
	case c.number == "":
		return Card{}, &CardError{"card_number", CodeIncompleteNumber, "Enter your card number."}
	case !allDigits(c.number):
		return Card{}, &CardError{"card_number", CodeInvalidNumber, "Your card number must contain only digits."}
	case len(c.number) < 12:
		return Card{}, &CardError{"card_number", CodeIncompleteNumber, "Your card number is incomplete."}
	case len(c.number) > 19 || !luhn(c.number):
		return Card{}, &CardError{"card_number", CodeInvalidNumber, "Your card number is invalid."}
	}
	c.Brand = cardBrand(c.number)

	month, year, ok := parseExpiry(expiry)
	if !ok {
		return Card{}, &CardError{"card_expiry", CodeInvalidExpiry, "Enter the expiry date as MM/YY."}
	}
	now = now.UTC()
	if year < now.Year() || (year == now.Year() && month < int(now.Month())) {
		return Card{}, &CardError{"card_expiry", CodeExpiredCard, "Your card's expiration date is in the past."}
	}
	if year > now.Year()+20 {
		return Card{}, &CardError{"card_expiry", CodeInvalidExpiry, "Your card's expiration year is invalid."}
	}
	c.ExpMonth, c.ExpYear = month, year

	c.cvc = strings.TrimSpace(cvc)
	wantLen := 3
	if c.Brand == "amex" {
		wantLen = 4
	}
	if len(c.cvc) != wantLen || !allDigits(c.cvc) {
		return Card{}, &CardError{"card_cvc", CodeInvalidCVC, fmt.Sprintf("Your card's security code must be %d digits.", wantLen)}
	}
	return c, nil
}

// Number returns the full card number, for the acquirer call and the
// fingerprint only.
func (c Card) Number() string { return c.number }

// Last4 returns the last four digits.
func (c Card) Last4() string {
	if len(c.number) < 4 {
		return ""
	}
	return c.number[len(c.number)-4:]
}

// Fingerprint identifies the card number across tokens and merchants
// without revealing it: HMAC-SHA256 under the server secret, so it cannot be
// brute-forced from a database dump without the key.
func (c Card) Fingerprint(secret []byte) string { return Fingerprint(secret, c.number) }

// Fingerprint is Card.Fingerprint for a bare card number (digits only).
func Fingerprint(secret []byte, number string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("herald card fingerprint\x00"))
	mac.Write([]byte(number))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// String returns "visa •••• 4242".
func (c Card) String() string { return c.Brand + " •••• " + c.Last4() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q) print String, so a
// card in an error message or a debug print never shows the number.
func (c Card) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue keeps log/slog from printing fields.
func (c Card) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes the brand and last four digits only.
func (c Card) MarshalJSON() ([]byte, error) {
	return []byte(`{"brand":` + strconv.Quote(c.Brand) + `,"last4":` + strconv.Quote(c.Last4()) + `}`), nil
}

func parseExpiry(s string) (month, year int, ok bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	var mm, yy string
	if m, y, found := strings.Cut(s, "/"); found {
		mm, yy = m, y
	} else if len(s) == 4 || len(s) == 6 {
		mm, yy = s[:2], s[2:]
	}
	if len(mm) == 1 {
		mm = "0" + mm
	}
	if len(mm) != 2 || (len(yy) != 2 && len(yy) != 4) || !allDigits(mm) || !allDigits(yy) {
		return 0, 0, false
	}
	month, _ = strconv.Atoi(mm)
	year, _ = strconv.Atoi(yy)
	if len(yy) == 2 {
		year += 2000
	}
	return month, year, month >= 1 && month <= 12
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// luhn reports whether the digits pass the Luhn (mod 10) check.
func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// cardBrand recognises the major networks by their IIN ranges.
func cardBrand(n string) string {
	prefix := func(digits int) int {
		v, _ := strconv.Atoi(n[:digits])
		return v
	}
	switch p2, p4 := prefix(2), prefix(4); {
	case n[0] == '4':
		return "visa"
	case (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720):
		return "mastercard"
	case p2 == 34 || p2 == 37:
		return "amex"
	case p4 == 6011 || p2 == 65 || (prefix(3) >= 644 && prefix(3) <= 649):
		return "discover"
	case p4 >= 3528 && p4 <= 3589:
		return "jcb"
	case p2 == 36 || p2 == 38 || p2 == 39 || (prefix(3) >= 300 && prefix(3) <= 305):
		return "diners"
	case p2 == 62:
		return "unionpay"
	}
	return "unknown"
}
