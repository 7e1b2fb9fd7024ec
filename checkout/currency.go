package checkout

import (
	"strconv"
	"strings"
)

// currencyExponents maps ISO 4217 currency codes (lowercase, as in the API)
// to the number of digits after the decimal point of their minor unit.
// Amounts in the API are integers in that minor unit: 1000 usd is $10.00,
// 1000 jpy is ¥1,000 and 1000 kwd is 1.000 KD. Fund codes (CLF, UYW, …)
// and precious metals are left out: nobody pays a checkout in them.
var currencyExponents = map[string]int{
	// No minor unit.
	"bif": 0, "clp": 0, "djf": 0, "gnf": 0, "isk": 0, "jpy": 0, "kmf": 0, "krw": 0,
	"pyg": 0, "rwf": 0, "ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
	// Three decimals.
	"bhd": 3, "iqd": 3, "jod": 3, "kwd": 3, "lyd": 3, "omr": 3, "tnd": 3,
	// Two decimals: everything else in circulation.
	"aed": 2, "afn": 2, "all": 2, "amd": 2, "ang": 2, "aoa": 2, "ars": 2, "aud": 2,
	"awg": 2, "azn": 2, "bam": 2, "bbd": 2, "bdt": 2, "bgn": 2, "bmd": 2, "bnd": 2,
	"bob": 2, "brl": 2, "bsd": 2, "btn": 2, "bwp": 2, "byn": 2, "bzd": 2, "cad": 2,
	"cdf": 2, "chf": 2, "cny": 2, "cop": 2, "crc": 2, "cup": 2, "cve": 2, "czk": 2,
	"dkk": 2, "dop": 2, "dzd": 2, "egp": 2, "ern": 2, "etb": 2, "eur": 2, "fjd": 2,
	"fkp": 2, "gbp": 2, "gel": 2, "ghs": 2, "gip": 2, "gmd": 2, "gtq": 2, "gyd": 2,
	"hkd": 2, "hnl": 2, "htg": 2, "huf": 2, "idr": 2, "ils": 2, "inr": 2, "irr": 2,
	"jmd": 2, "kes": 2, "kgs": 2, "khr": 2, "kpw": 2, "kyd": 2, "kzt": 2, "lak": 2,
	"lbp": 2, "lkr": 2, "lrd": 2, "lsl": 2, "mad": 2, "mdl": 2, "mga": 2, "mkd": 2,
	"mmk": 2, "mnt": 2, "mop": 2, "mru": 2, "mur": 2, "mvr": 2, "mwk": 2, "mxn": 2,
	"myr": 2, "mzn": 2, "nad": 2, "ngn": 2, "nio": 2, "nok": 2, "npr": 2, "nzd": 2,
	"pab": 2, "pen": 2, "pgk": 2, "php": 2, "pkr": 2, "pln": 2, "qar": 2, "ron": 2,
	"rsd": 2, "rub": 2, "sar": 2, "sbd": 2, "scr": 2, "sdg": 2, "sek": 2, "sgd": 2,
	"shp": 2, "sle": 2, "sos": 2, "srd": 2, "ssp": 2, "stn": 2, "svc": 2, "syp": 2,
	"szl": 2, "thb": 2, "tjs": 2, "tmt": 2, "top": 2, "try": 2, "ttd": 2, "twd": 2,
	"tzs": 2, "uah": 2, "usd": 2, "uyu": 2, "uzs": 2, "ves": 2, "wst": 2, "xcd": 2,
	"xcg": 2, "yer": 2, "zar": 2, "zmw": 2, "zwg": 2,
}

// currencySymbols are prefixes for the currencies most shoppers recognise
// by symbol; every other currency is shown with its code.
var currencySymbols = map[string]string{
	"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩",
	"cad": "CA$", "aud": "A$", "nzd": "NZ$", "hkd": "HK$", "sgd": "S$", "mxn": "MX$", "brl": "R$",
}

// CurrencyExponent returns the minor-unit exponent of an ISO 4217 code
// (either case) and whether the code is known.
func CurrencyExponent(code string) (int, bool) {
	e, ok := currencyExponents[strings.ToLower(code)]
	return e, ok
}

// FormatAmount renders amount (in minor units) for people: "$1,234.50",
// "¥1,000", "KWD 1.500". An unknown currency is shown with two decimals.
func FormatAmount(amount int64, currency string) string {
	currency = strings.ToLower(currency)
	exp, ok := currencyExponents[currency]
	if !ok {
		exp = 2
	}
	sign := ""
	// Negate in uint64 so math.MinInt64 does not overflow.
	u := uint64(amount)
	if amount < 0 {
		sign = "-"
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	for len(digits) <= exp {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-exp], digits[len(digits)-exp:]
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	number := b.String()
	if exp > 0 {
		number += "." + frac
	}
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + number
	}
	return sign + strings.ToUpper(currency) + "\u00a0" + number
}
