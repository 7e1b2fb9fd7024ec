package checkouthttp

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var formNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestParsePaymentForm(t *testing.T) {
	t.Parallel()

	valid := url.Values{"email": {" jo@example.com "}, "card_number": {"4242 4242 4242 4242"}, "card_expiry": {"12/30"},
		"card_cvc": {"123"}, "cardholder_name": {" Jo Example "}}
	f, errs := parsePaymentForm(valid, "", formNow)
	require.Empty(t, errs)
	require.Equal(t, "jo@example.com", f.Email)
	require.Equal(t, "Jo Example", f.CardholderName)
	require.Equal(t, "4242", f.Card.Last4())

	f, errs = parsePaymentForm(valid, "locked@shop.test", formNow)
	require.Empty(t, errs)
	require.Equal(t, "locked@shop.test", f.Email, "the session's email wins over the posted one")

	for _, tt := range []struct {
		name  string
		set   map[string]string
		field string
	}{
		{"no email", map[string]string{"email": ""}, "email"},
		{"bad email", map[string]string{"email": "jo@"}, "email"},
		{"no number", map[string]string{"card_number": ""}, "card_number"},
		{"not luhn", map[string]string{"card_number": "4242424242424241"}, "card_number"},
		{"bad expiry", map[string]string{"card_expiry": "13/30"}, "card_expiry"},
		{"past expiry", map[string]string{"card_expiry": "10/26"}, "card_expiry"},
		{"short cvc", map[string]string{"card_cvc": "1"}, "card_cvc"},
		{"no name", map[string]string{"cardholder_name": "  "}, "cardholder_name"},
		{"long name", map[string]string{"cardholder_name": strings.Repeat("n", 101)}, "cardholder_name"},
		{"invalid utf-8 name", map[string]string{"cardholder_name": "\xff\xfe"}, "cardholder_name"},
		{"NUL in the name", map[string]string{"cardholder_name": "Jo\x00Example"}, "cardholder_name"},
		{"NUL ending the name", map[string]string{"cardholder_name": "Jo Example\x00"}, "cardholder_name"},
		{"newline in the name", map[string]string{"cardholder_name": "Jo\nExample"}, "cardholder_name"},
		{"DEL in the name", map[string]string{"cardholder_name": "Jo\x7f"}, "cardholder_name"},
		{"C1 in the name", map[string]string{"cardholder_name": "Jo\u0085Example"}, "cardholder_name"},
		{"NUL in the email", map[string]string{"email": "jo@example.com\x00"}, "email"},
		{"tab in the email", map[string]string{"email": "jo@exam\tple.com"}, "email"},
		{"C1 in the email", map[string]string{"email": "jo\u0080@example.com"}, "email"},
		{"NUL in the number", map[string]string{"card_number": "4242424242424242\x00"}, "card_number"},
		{"NUL in the expiry", map[string]string{"card_expiry": "12/3\x000"}, "card_expiry"},
		{"NUL in the CVC", map[string]string{"card_cvc": "12\x00"}, "card_cvc"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			v := url.Values{}
			for k, vs := range valid {
				v[k] = vs
			}
			for k, val := range tt.set {
				v.Set(k, val)
			}
			_, errs := parsePaymentForm(v, "", formNow)
			require.Contains(t, errs, tt.field)
			require.Len(t, errs, 1)
		})
	}
}

// formMessages are every message parsePaymentForm may show. They are fixed
// strings: a message never repeats what was typed (a card number, a CVC).
var formMessages = map[string]bool{
	"Enter your card number.":                            true,
	"Your card number must contain only digits.":         true,
	"Your card number is incomplete.":                    true,
	"Your card number is invalid.":                       true,
	"Enter the expiry date as MM/YY.":                    true,
	"Your card's expiration date is in the past.":        true,
	"Your card's expiration year is invalid.":            true,
	"Your card's security code must be 3 digits.":        true,
	"Your card's security code must be 4 digits.":        true,
	"Enter your email address.":                          true,
	"Enter a valid email address.":                       true,
	"Enter the name on your card.":                       true,
	"The name must be at most 100 characters.":           true,
	"The name contains characters that are not allowed.": true,
}

// FuzzParsePaymentForm: whatever a browser (or an attacker) posts, parsing
// never panics, every error is one of the fixed messages (so none can echo
// the card number or CVC), an accepted form is complete, and its text is
// valid UTF-8 without control characters (PostgreSQL refuses NUL; the rest
// has no place in a name or an address). What is put back into the form
// after an error is clean too.
func FuzzParsePaymentForm(f *testing.F) {
	f.Add("4242 4242 4242 4242", "12/30", "123", "Jo", "jo@example.com")
	f.Add("4000-0027-6000-3184", "1230", "9999", "", "")
	f.Add("", "", "", "\xff", "@")
	f.Add("378282246310005", "01 / 2031", "1234", strings.Repeat("x", 200), "a@b.c")
	f.Add("4242424242424242", "12/30", "123", "Jo\x00", "jo@example.com\u0085")
	f.Fuzz(func(t *testing.T, number, expiry, cvc, name, email string) {
		v := url.Values{"card_number": {number}, "card_expiry": {expiry}, "card_cvc": {cvc}, "cardholder_name": {name}, "email": {email}}
		form, errs := parsePaymentForm(v, "", formNow)
		for field, msg := range errs {
			require.True(t, formMessages[msg], "%s: unexpected message %q", field, msg)
		}
		for _, s := range []string{redisplay(name), redisplay(email)} {
			require.True(t, printableText(s), "redisplayed %q", s)
		}
		if len(errs) == 0 {
			digits := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(number))
			require.Equal(t, digits, form.Card.Number(), "an accepted number is the digits typed")
			require.NotEmpty(t, form.CardholderName)
			require.NotEmpty(t, form.Email)
			for _, s := range []string{form.CardholderName, form.Email} {
				require.True(t, printableText(s), "accepted %q", s)
			}
		}
	})
}
