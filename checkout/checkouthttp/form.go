package checkouthttp

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldpay/herald/checkout"
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
		} else if valid, err := checkout.ValidateEmail("email", email); err != nil {
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
	case utf8.RuneCountInString(f.CardholderName) > 100 || !utf8.ValidString(f.CardholderName):
		errs["cardholder_name"] = "The name must be at most 100 characters."
	}
	return f, errs
}
