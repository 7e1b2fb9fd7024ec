package checkout

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseCard(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		number, expiry, cvc string
		brand               string
		month, year         int
	}{
		{"4242424242424242", "12/30", "123", "visa", 12, 2030},
		{"4242 4242 4242 4242", "12 / 30", "123", "visa", 12, 2030},
		{"4242-4242-4242-4242", "1/2031", "123", "visa", 1, 2031},
		{"5555555555554444", "1130", "123", "mastercard", 11, 2030},
		{"2223003122003222", "11/26", "123", "mastercard", 11, 2026},
		{"378282246310005", "11/30", "1234", "amex", 11, 2030},
		{"6011111111111117", "11/30", "123", "discover", 11, 2030},
		{"3566002020360505", "11/30", "123", "jcb", 11, 2030},
		{"3056930009020004", "11/30", "123", "diners", 11, 2030},
		{"6200000000000005", "11/30", "123", "unionpay", 11, 2030},
	} {
		t.Run(tt.number, func(t *testing.T) {
			t.Parallel()

			c, err := ParseCard(tt.number, tt.expiry, tt.cvc, testNow)
			require.NoError(t, err)
			require.Equal(t, tt.brand, c.Brand)
			require.Equal(t, tt.month, c.ExpMonth)
			require.Equal(t, tt.year, c.ExpYear)
			require.Equal(t, strings.NewReplacer(" ", "", "-", "").Replace(tt.number), c.Number())
		})
	}
}

func TestParseCardErrors(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name                string
		number, expiry, cvc string
		field, code         string
	}{
		{"empty number", "", "12/30", "123", "card_number", CodeIncompleteNumber},
		{"letters", "4242abcd42424242", "12/30", "123", "card_number", CodeInvalidNumber},
		{"short", "42424242", "12/30", "123", "card_number", CodeIncompleteNumber},
		{"not luhn", "4242424242424241", "12/30", "123", "card_number", CodeInvalidNumber},
		{"too long", "42424242424242424242", "12/30", "123", "card_number", CodeInvalidNumber},
		{"no expiry", "4242424242424242", "", "123", "card_expiry", CodeInvalidExpiry},
		{"month 13", "4242424242424242", "13/30", "123", "card_expiry", CodeInvalidExpiry},
		{"month 0", "4242424242424242", "00/30", "123", "card_expiry", CodeInvalidExpiry},
		{"garbage expiry", "4242424242424242", "ab/cd", "123", "card_expiry", CodeInvalidExpiry},
		{"last month", "4242424242424242", "10/26", "123", "card_expiry", CodeExpiredCard},
		{"last year", "4242424242424242", "12/25", "123", "card_expiry", CodeExpiredCard},
		{"far future", "4242424242424242", "12/2047", "123", "card_expiry", CodeInvalidExpiry},
		{"short cvc", "4242424242424242", "12/30", "12", "card_cvc", CodeInvalidCVC},
		{"letters cvc", "4242424242424242", "12/30", "12a", "card_cvc", CodeInvalidCVC},
		{"amex 3-digit cvc", "378282246310005", "12/30", "123", "card_cvc", CodeInvalidCVC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, err := ParseCard(tt.number, tt.expiry, tt.cvc, testNow)
			var cerr *CardError
			require.ErrorAs(t, err, &cerr)
			require.Equal(t, tt.field, cerr.Field)
			require.Equal(t, tt.code, cerr.Code)
			if tt.number != "" {
				require.NotContains(t, err.Error(), tt.number)
			}
		})
	}
}

// A card that reaches a log line, an error, a debug print or JSON must show
// nothing but brand and last four digits.
func TestCardNeverPrintsNumberOrCVC(t *testing.T) {
	t.Parallel()

	c, err := ParseCard("4000 0027 6000 3184", "12/30", "987", testNow)
	require.NoError(t, err)

	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("charging", "card", c, "wrapped", struct{ C Card }{c})
	b, err := json.Marshal(struct{ Card Card }{c})
	require.NoError(t, err)
	outputs := []string{
		fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q %x", c, c, c, c, c, c),
		fmt.Sprintf("%+v", struct{ C Card }{c}), fmt.Errorf("charge %v: failed", c).Error(),
		logs.String(), string(b),
	}
	for _, out := range outputs {
		require.NotContains(t, out, "4000002760003184")
		require.NotContains(t, out, "987")
		require.Contains(t, out, "3184")
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()

	a, err := ParseCard("4242 4242 4242 4242", "12/30", "123", testNow)
	require.NoError(t, err)
	b, err := ParseCard("4242424242424242", "01/31", "999", testNow)
	require.NoError(t, err)
	c, err := ParseCard("5555555555554444", "12/30", "123", testNow)
	require.NoError(t, err)

	key := []byte("server secret")
	require.Equal(t, a.Fingerprint(key), b.Fingerprint(key), "same number, same fingerprint")
	require.NotEqual(t, a.Fingerprint(key), c.Fingerprint(key))
	require.NotEqual(t, a.Fingerprint(key), a.Fingerprint([]byte("other secret")))
	require.NotContains(t, a.Fingerprint(key), "4242")
}
