package dashboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/heraldpay/herald/internal/httpapi"
)

// RiverUIPrefix is where the dashboard serves River UI: build the River UI
// handler with it as its prefix.
const RiverUIPrefix = "/dashboard/river"

// riverUICSP lets River UI's single-page app run: its own scripts and
// styles (it sets inline styles, hence 'unsafe-inline' for styles only),
// API calls to itself, nothing from elsewhere, never framed.
const riverUICSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// Bounds of an audited River UI call: its body must fit, and the audit
// log keeps its start.
const (
	maxRiverUIBody   = 64 << 10
	riverUIBodyShown = 500
)

// riverUI serves River UI (riverqueue.com/riverui, built by the caller
// with RiverUIPrefix) with the dashboard's headers, behind the sign-in and
// http.CrossOriginProtection. Its API calls cannot carry the forms' token,
// but the session cookie is SameSite=Strict, so no other site's request
// carries the session either. Its state-changing calls (cancel, retry or
// delete jobs; pause, resume or change queues) go into the audit log like
// every other operator action.
func (d *Dashboard) riverUI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCommonHeaders(w.Header())
		w.Header().Set("Content-Security-Policy", riverUICSP)
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
		default:
			d.serveRiverUIChange(w, r, h)
		}
	})
}

// errRiverUIRefused is a River UI call answered with an error status.
var errRiverUIRefused = errors.New("refused by River UI")

func (d *Dashboard) serveRiverUIChange(w http.ResponseWriter, r *http.Request, h http.Handler) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRiverUIBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	detail := map[string]string{"method": r.Method}
	if len(body) > 0 {
		detail["body"] = shorten(string(body), riverUIBodyShown)
	}
	rec := &httpapi.StatusRecorder{ResponseWriter: w}
	err = d.audited(r, &AuditEntry{Action: ActionRiverUI, Target: strings.TrimPrefix(r.URL.Path, RiverUIPrefix), Detail: detail},
		func(ctx context.Context) (string, string, error) {
			h.ServeHTTP(rec, r.WithContext(ctx))
			status := rec.StatusOrOK()
			if status >= http.StatusBadRequest {
				return "", "", fmt.Errorf("%w: HTTP %d", errRiverUIRefused, status)
			}
			return "", fmt.Sprintf("HTTP %d", status), nil
		})
	if err != nil && !errors.Is(err, errRiverUIRefused) {
		// The audit entry could not be written: nothing was done.
		d.serverError(w, r, err)
	}
}

// shorten cuts s to at most n bytes on a rune boundary, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
