package checkout

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCurrencyExponent(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		code string
		exp  int
		ok   bool
	}{
		{"usd", 2, true},
		{"USD", 2, true},
		{"eur", 2, true},
		{"jpy", 0, true},
		{"krw", 0, true},
		{"clp", 0, true},
		{"kwd", 3, true},
		{"bhd", 3, true},
		{"tnd", 3, true},
		{"xyz", 0, false},
		{"", 0, false},
		{"us", 0, false},
	} {
		t.Run(tt.code, func(t *testing.T) {
			t.Parallel()

			exp, ok := CurrencyExponent(tt.code)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.exp, exp)
		})
	}
}

func TestFormatAmount(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{0, "usd", "$0.00"},
		{5, "usd", "$0.05"},
		{1999, "usd", "$19.99"},
		{123456789, "usd", "$1,234,567.89"},
		{1000, "jpy", "¥1,000"},
		{1000, "JPY", "¥1,000"},
		{1500, "kwd", "KWD\u00a01.500"},
		{1, "kwd", "KWD\u00a00.001"},
		{100000, "eur", "€1,000.00"},
		{-250, "gbp", "-£2.50"},
		{99, "xyz", "XYZ\u00a00.99"},
		{math.MinInt64, "usd", "-$92,233,720,368,547,758.08"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.want, FormatAmount(tt.amount, tt.currency))
		})
	}
}
