package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/heraldpay/herald/internal/validation"
)

// CheckQuery answers 400 for a request whose query string is malformed, or
// whose parameter names or values hold control characters or invalid UTF-8,
// before any handler reads it. Handlers pass query values to PostgreSQL,
// which refuses NUL and invalid UTF-8 in text with an error that would
// otherwise surface as a 500; checking once here covers every route.
func CheckQuery(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := checkQuery(r.URL.RawQuery); err != nil {
				WriteError(w, r, logger, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// checkQuery returns the *validation.Error for the first bad parameter of rawQuery,
// in name order so the answer is the same on every try, or nil.
func checkQuery(rawQuery string) *validation.Error {
	if rawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		// url.ParseQuery's error quotes the offending bytes; the message
		// stays fixed instead.
		return &validation.Error{Code: validation.CodeInvalid,
			Message: "The query string is malformed: use & between parameters and %XX escapes only."}
	}
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !cleanText(name) {
			// The name is not sent back: it is the bad part.
			return &validation.Error{Code: validation.CodeInvalid,
				Message: "Invalid query parameter name: control characters and invalid UTF-8 are not allowed."}
		}
		for _, v := range q[name] {
			if !cleanText(v) {
				return &validation.Error{Param: name, Code: validation.CodeInvalid,
					Message: fmt.Sprintf("Invalid value for the query parameter %s: control characters and invalid UTF-8 are not allowed.", name)}
			}
		}
	}
	return nil
}

func cleanText(s string) bool {
	return utf8.ValidString(s) && !validation.HasControl(s)
}
