package htmlpage

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

// A page is its template inside the site's layout, whose head has the
// shared meta elements, sent with the CSP and the site's own headers; a
// template that fails sends a plain 500, not half a page.
func TestRender(t *testing.T) {
	t.Parallel()

	pages := Parse(Config{Site: "test", Names: []string{"hello", "broken"}, Logger: slog.New(slog.DiscardHandler),
		FS: fstest.MapFS{
			"templates/layout.html": {Data: []byte(`{{define "top"}}<head>{{template "meta"}}</head>{{end}}`)},
			"templates/hello.html":  {Data: []byte(`{{template "top" .}}<p>{{shout .}}</p>`)},
			"templates/broken.html": {Data: []byte(`{{template "top" .}}{{.Missing}}`)},
		},
		Funcs:   map[string]any{"shout": func(s string) string { return s + "!" }},
		Headers: func(h http.Header) { h.Set("X-Frame-Options", "DENY") },
	})
	r := httptest.NewRequest(http.MethodGet, "/", nil)

	w := httptest.NewRecorder()
	pages.Render(w, r, http.StatusTeapot, "hello", "hi")
	require.Equal(t, http.StatusTeapot, w.Code)
	require.Equal(t, `<head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"></head><p>hi!</p>`, w.Body.String())
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	require.Equal(t, contentSecurityPolicy, w.Header().Get("Content-Security-Policy"))
	require.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))

	w = httptest.NewRecorder()
	pages.Render(w, r, http.StatusOK, "broken", "hi")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "Something went wrong while showing this page.\n", w.Body.String())
	require.Empty(t, w.Header().Get("Content-Security-Policy"))
}
