package checkouthttp

import (
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/validation"
)

// paymentForm is the hosted page's form, parsed and validated.
type paymentForm struct {
	Card           checkout.Card
	CardholderName string
	Email          string
}

// parsePaymentForm validates the posted fields. sessionEmail, when the
// merchant set one, overrides what was posted (the field is read-only). The
// returned map holds one message per invalid field; it never repeats the
// card number or CVC.
func parsePaymentForm(v url.Values, sessionEmail string, now time.Time) (paymentForm, map[string]string) {
	var f paymentForm
	errs := map[string]string{}

	f.Email = sessionEmail
	if f.Email == "" {
		email := strings.TrimSpace(v.Get("email"))
		if email == "" {
			errs["email"] = "Enter your email address."
		} else if valid, err := checkout.ValidateEmail("email", email); err != nil || !printableText(v.Get("email")) {
			errs["email"] = "Enter a valid email address."
		} else {
			f.Email = valid
		}
	}

	card, err := checkout.ParseCard(v.Get("card_number"), v.Get("card_expiry"), v.Get("card_cvc"), now)
	if cerr, ok := err.(*checkout.CardError); ok { //nolint:errorlint // ParseCard returns *CardError unwrapped
		errs[cerr.Field] = cerr.Message
	} else {
		f.Card = card
	}

	f.CardholderName = strings.TrimSpace(v.Get("cardholder_name"))
	switch {
	case f.CardholderName == "":
		errs["cardholder_name"] = "Enter the name on your card."
	case !printableText(v.Get("cardholder_name")):
		// Checked before the length, on what was posted: a NUL would
		// otherwise reach the charge row, which PostgreSQL refuses.
		errs["cardholder_name"] = "The name contains characters that are not allowed."
	case utf8.RuneCountInString(f.CardholderName) > 100:
		errs["cardholder_name"] = "The name must be at most 100 characters."
	}
	return f, errs
}

// printableText reports whether s is valid UTF-8 without control
// characters: what a person can type into a text field.
func printableText(s string) bool {
	return utf8.ValidString(s) && !validation.HasControl(s)
}

// redisplay returns s fit to be put back into the form after an error:
// invalid UTF-8 and control characters dropped.
func redisplay(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
}
