// Package htmlpage renders Herald's server-side pages (the operator
// dashboard and the merchant portal): one template per page inside a shared
// layout, executed into a buffer so that a failing template answers a plain
// 500 instead of half a page, and sent with the headers every such page
// needs.
package htmlpage

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/heraldpay/herald/internal/httpapi"
)

// sharedFS holds the templates every site's layout may call: "meta", the
// head's meta elements.
//
//go:embed templates/*.html
var sharedFS embed.FS

// contentSecurityPolicy allows no script at all (charts are inline SVG
// drawn on the server), and styles, images and form posts from Herald only.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Set is the parsed pages of one site.
type Set struct {
	tmpl   map[string]*template.Template
	site   string
	extra  func(http.Header)
	logger *slog.Logger
}

// Config describes a site's pages.
type Config struct {
	// Site names the pages in log lines ("dashboard", "portal").
	Site string
	// FS holds templates/layout.html and templates/<name>.html for each of
	// Names. The layout's head calls {{template "meta"}}.
	FS    fs.FS
	Names []string
	Funcs template.FuncMap
	// Headers sets the site's own headers (framing, referrer, caching).
	Headers func(http.Header)
	Logger  *slog.Logger
}

// Parse parses the templates. It panics if they do not parse: they are
// embedded, so that is a bug caught by any test that builds the site.
func Parse(cfg Config) *Set {
	s := &Set{tmpl: map[string]*template.Template{}, site: cfg.Site, extra: cfg.Headers, logger: cfg.Logger}
	for _, name := range cfg.Names {
		t := template.Must(template.New(name).Funcs(cfg.Funcs).ParseFS(sharedFS, "templates/*.html"))
		s.tmpl[name] = template.Must(t.ParseFS(cfg.FS, "templates/layout.html", "templates/"+name+".html"))
	}
	return s
}

// Render executes page name with data and writes it with status.
func (s *Set) Render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl[name].ExecuteTemplate(&buf, name+".html", data); err != nil {
		s.logger.ErrorContext(r.Context(), "render "+s.site+" page", "template", name, "err", err,
			"request_id", httpapi.RequestID(r.Context()))
		http.Error(w, "Something went wrong while showing this page.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	s.extra(h)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
