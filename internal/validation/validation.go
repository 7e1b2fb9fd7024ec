// Package validation describes an invalid request: the one error behind
// every 400. The domain packages (checkout, delivery) return *Error from
// their validation, httpapi's decoding and query checks return it too, and
// httpapi.WriteError answers it with a 400 naming the parameter, in one
// place.
//
// It is built as a literal with named fields, never from positional
// strings that could be swapped:
//
//	&validation.Error{Param: "url", Code: validation.CodeURLInvalid, Message: "must use https"}
package validation

import "unicode"

// Error reports one invalid parameter, or an invalid request as a whole
// when Param is empty (a malformed body or query string).
type Error struct {
	// Param uses the API's bracket notation, e.g.
	// "line_items[2][unit_amount]".
	Param string
	// Code is the API error's "code": one of the Code… constants, or a
	// more precise one of the caller's (e.g. "json_invalid").
	Code string
	// Message is shown to the API client as is.
	Message string
}

// Error implements error.
func (e *Error) Error() string { return e.Param + ": " + e.Message }

// Codes, as in the "code" field of the API error.
const (
	CodeMissing         = "parameter_missing"
	CodeInvalid         = "parameter_invalid"
	CodeURLInvalid      = "url_invalid"
	CodeCurrencyInvalid = "currency_invalid"
	CodeAmountTooLarge  = "amount_too_large"
	CodeAmountTooSmall  = "amount_too_small"
	CodeResourceMissing = "resource_missing"
)

// MessageControl is the message for a value with a control character.
const MessageControl = "control characters are not allowed"

// HasControl reports whether s contains a control character: C0
// (U+0000–U+001F, tab and newline included), DEL (U+007F) or C1
// (U+0080–U+009F). Such characters have no business in a name, a URL or
// metadata, PostgreSQL refuses NUL in text outright, and the rest turn up
// in pages, logs and webhooks where they can hide or fake text.
func HasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// Control returns the *Error for a parameter holding a control character.
func Control(param string) *Error {
	return &Error{Param: param, Code: CodeInvalid, Message: MessageControl}
}
