package dashboard

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/htmlpage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"signin", "message", "overview", "deliveries", "delivery", "redrives", "redrive", "endpoints", "payments",
	"payment", "keys", "keyrolled", "audit"}

// Navigation sections, to highlight the current one.
const (
	navOverview   = "overview"
	navDeliveries = "deliveries"
	navRedrives   = "redrives"
	navEndpoints  = "endpoints"
	navPayments   = "payments"
	navKeys       = "keys"
	navAudit      = "audit"
)

// renderer executes the embedded templates.
type renderer struct{ *htmlpage.Set }

// newRenderer parses the templates. It panics if they do not parse: they
// are compiled into the binary, so that is a build defect.
func newRenderer(logger *slog.Logger, now func() time.Time) *renderer {
	funcs := template.FuncMap{
		"when":     formatTime,
		"ago":      func(t any) string { return relative(t, now()) },
		"dur":      formatDuration,
		"span":     formatSpan,
		"rate":     formatRate,
		"rateTone": rateTone,
		"percent":  func(part, whole int) string { return formatRate(ratio(part, whole)) },
		"ratio":    ratio,
		"count":    formatCount,
		"plural":   plural,
		"add": func(n ...int) int {
			sum := 0
			for _, v := range n {
				sum += v
			}
			return sum
		},
		"missed": func(n int) string {
			if n > SkippedCap {
				return formatCount(SkippedCap) + "+ events"
			}
			return formatCount(n) + " " + plural(n, "event", "events")
		},
		"hold": func(r delivery.HoldReason) string {
			switch r {
			case delivery.HoldEndpointPaused:
				return "endpoint paused"
			case delivery.HoldBreakerOpen:
				return "breaker open"
			}
			return ""
		},
		"money":      checkout.FormatAmount,
		"tickLeft":   func(x float64) float64 { return x - 6 },
		"tickBelow":  func(y float64) float64 { return y + 18 },
		"scopeLabel": scopeLabel,
		"scopeValue": scopeValue,
		"tile":       func(label string, w Window, id string) windowTile { return windowTile{label, w, id} },
		"targetURL":  targetURL,
		"merchantSelect": func(id, choose string, merchants []Merchant, selected string) merchantSelect {
			return merchantSelect{ID: id, Choose: choose, Merchants: merchants, Selected: selected}
		},
		"endpointButton": func(e EndpointRow, action, label, token, returnTo string) endpointButton {
			return endpointButton{ID: e.ID, Action: action, Label: label, Token: token, ReturnTo: returnTo}
		},
	}
	return &renderer{htmlpage.Parse(htmlpage.Config{Site: "dashboard", FS: templateFS, Names: pageNames, Funcs: funcs,
		Headers: setCommonHeaders, Logger: logger})}
}

// windowTile is a success-rate tile of the overview.
type windowTile struct {
	Label  string
	Window Window
	ID     string
}

// merchantSelect is a filter form's merchant picker: Choose is the
// option of no merchant.
type merchantSelect struct {
	ID        string
	Choose    string
	Merchants []Merchant
	Selected  string
}

// endpointButton is one action form of the endpoints list.
type endpointButton struct {
	ID       string
	Action   string
	Label    string
	Token    string
	ReturnTo string
}

// view is what every page template gets; Data is the page's own.
type view struct {
	Title string
	// Nav is the highlighted section.
	Nav string
	// Session is nil on the sign-in page.
	Session *Session
	// RiverUI shows its link.
	RiverUI bool
	Notice  *notice
	// Refresh reloads the page every so many seconds (0: never): progress
	// views follow a job without any script.
	Refresh int
	Data    any
}

// CSRFToken is the session's form token, for every form on the page.
func (v view) CSRFToken() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRFToken
}

// render executes a page into a buffer (a template error must not send half
// a page), then writes the security headers and the page.
func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	rd.Render(w, r, status, name, v)
}

// setCommonHeaders are the headers of every dashboard answer, River UI's
// included.
func setCommonHeaders(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// page renders a signed-in page.
func (d *Dashboard) page(w http.ResponseWriter, r *http.Request, status int, name, nav, title string, data any, opts ...func(*view)) {
	v := view{Title: title, Nav: nav, Session: sessionFrom(r.Context()), RiverUI: d.cfg.RiverUI != nil,
		Notice: noticeFor(r.URL.Query().Get("notice")), Data: data}
	for _, o := range opts {
		o(&v)
	}
	d.pages.render(w, r, status, name, v)
}

// refreshEvery reloads the page every n seconds.
func refreshEvery(n int) func(*view) { return func(v *view) { v.Refresh = n } }

// messageView is a page with a heading, a message and a link.
type messageView struct {
	Heading  string
	Message  string
	LinkURL  string
	LinkText string
}

// message renders a message page, inside the dashboard's frame when the
// operator is signed in.
func (d *Dashboard) message(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	v := view{Title: heading, Session: sessionFrom(r.Context()), RiverUI: d.cfg.RiverUI != nil,
		Data: messageView{Heading: heading, Message: msg, LinkURL: "/dashboard/", LinkText: "Back to the overview"}}
	d.pages.render(w, r, status, "message", v)
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	d.message(w, r, http.StatusNotFound, "Not found", "There is nothing at this address. It may have been mistyped, or the object does not exist.")
}

// serverError logs err with the request id and shows a generic page.
func (d *Dashboard) serverError(w http.ResponseWriter, r *http.Request, err error) {
	reqID := d.pages.LogError(r, err)
	d.message(w, r, http.StatusInternalServerError, "Something went wrong",
		"The page could not be loaded. Try again; if it persists, look for request id "+reqID+" in Herald's logs.")
}

var serveAssets = htmlpage.Assets(assetFS, "/dashboard/assets/")
