package portal

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/htmlpage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"message", "endpoints", "endpoint", "delivery", "secret"}

type renderer struct{ *htmlpage.Set }

// newRenderer parses the templates. It panics if they do not parse: they
// are compiled into the binary, so that is a build defect.
func newRenderer(logger *slog.Logger) *renderer {
	funcs := template.FuncMap{
		"when": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			case *time.Time:
				if v == nil {
					return "—"
				}
				return v.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			return ""
		},
		"ms": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
		"hold": func(r delivery.HoldReason) string {
			switch r {
			case delivery.HoldEndpointPaused:
				return "endpoint paused"
			case delivery.HoldBreakerOpen:
				return "endpoint looks down; waiting for its next probe"
			}
			return ""
		},
	}
	return &renderer{htmlpage.Parse(htmlpage.Config{Site: "portal", FS: templateFS, Names: pageNames, Funcs: funcs,
		Headers: setHeaders, Logger: logger})}
}

// view is what every page template gets; Data is the page's own.
type view struct {
	Title string
	// Session is set on the pages of an open session.
	Session   bool
	CSRFToken string
	ExpiresAt time.Time
	Notice    string
	Data      any
}

// setHeaders are the portal's own headers.
func setHeaders(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	// The link is the credential: it must not leave in a Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	rd.Render(w, r, status, name, v)
}

// page renders a page of the current session.
func (p *Portal) page(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	v := view{Title: title, Notice: notices[r.URL.Query().Get("notice")], Data: data}
	if s := sessionFrom(r.Context()); s != nil {
		v.Session, v.CSRFToken, v.ExpiresAt = true, s.CSRFToken, s.ExpiresAt
	}
	p.pages.render(w, r, status, name, v)
}

// notices are the messages a redirect after an action shows, by key: the
// query string never carries text of its own.
var notices = map[string]string{
	"test_sent":   "Test event sent. It appears below within seconds.",
	"redriven":    "Delivery scheduled again: a new attempt is on its way.",
	"missed_sent": "The missed events are on their way.",
}

type messageView struct {
	Heading string
	Message string
}

// message renders a page with a heading and a message.
func (p *Portal) message(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	p.page(w, r, status, "message", heading, messageView{Heading: heading, Message: msg})
}

func (p *Portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.message(w, r, http.StatusNotFound, "Not found",
		"There is nothing at this address. It may have been mistyped, or it does not belong to this account.")
}

// serverError logs err with the request id and shows a generic page.
func (p *Portal) serverError(w http.ResponseWriter, r *http.Request, err error) {
	reqID := p.pages.LogError(r, err)
	p.message(w, r, http.StatusInternalServerError, "Something went wrong",
		"The page could not be loaded. Try again; if it persists, quote request id "+reqID+".")
}

var serveAssets = htmlpage.Assets(assetFS, "/portal/assets/")
