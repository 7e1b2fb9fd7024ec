package httpapi

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// series gathers one family of reg as `{label=value,…} count` lines (a
// histogram's sample count), sorted, for exact comparisons.
func series(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var out []string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue()
			if h := m.GetHistogram(); h != nil {
				v = float64(h.GetSampleCount())
			}
			out = append(out, "{"+strings.Join(labels, ",")+"} "+strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	sort.Strings(out)
	return out
}

// A router shaped like Herald's: routes at the top, a subrouter with its
// own not-found answer, and a wildcard mount.
func metricsRouter(reg *prometheus.Registry) http.Handler {
	m := NewHTTPMetrics(reg)
	r := chi.NewRouter()
	r.Use(m.Middleware)
	r.Get("/pay/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	r.Get("/quiet", func(http.ResponseWriter, *http.Request) {}) // writes nothing: a 200
	r.Route("/v1", func(r chi.Router) {
		r.Get("/checkout/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
			if chi.URLParam(r, "id") == "cs_missing" {
				http.Error(w, "no such session", http.StatusNotFound)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		r.Post("/boom", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		r.NotFound(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "nothing here", http.StatusNotFound) })
	})
	r.Handle("/files/*", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return r
}

// Requests are counted by the pattern that answered them, never by their
// path; what matched nothing is "unmatched" and an invented method is
// "other", so no client can add a series.
func TestHTTPMetricsLabels(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name          string
		method, path  string
		wantRequests  string
		wantDurations string
	}{
		{"route with a parameter", "GET", "/pay/cs_abc", "{method=GET,route=/pay/{id},status_class=2xx} 1", "{method=GET,route=/pay/{id}} 1"},
		{"nothing written", "GET", "/quiet", "{method=GET,route=/quiet,status_class=2xx} 1", "{method=GET,route=/quiet} 1"},
		{"subrouter route", "GET", "/v1/checkout/sessions/cs_1", "{method=GET,route=/v1/checkout/sessions/{id},status_class=2xx} 1",
			"{method=GET,route=/v1/checkout/sessions/{id}} 1"},
		{"a route's own 404", "GET", "/v1/checkout/sessions/cs_missing", "{method=GET,route=/v1/checkout/sessions/{id},status_class=4xx} 1",
			"{method=GET,route=/v1/checkout/sessions/{id}} 1"},
		{"server error", "POST", "/v1/boom", "{method=POST,route=/v1/boom,status_class=5xx} 1", "{method=POST,route=/v1/boom} 1"},
		{"unknown top-level path", "GET", "/wp-admin/setup.php", "{method=GET,route=unmatched,status_class=4xx} 1", "{method=GET,route=unmatched} 1"},
		{"unknown path in a subrouter", "GET", "/v1/sessions/cs_secret", "{method=GET,route=unmatched,status_class=4xx} 1", "{method=GET,route=unmatched} 1"},
		{"method not allowed", "DELETE", "/pay/cs_abc", "{method=DELETE,route=unmatched,status_class=4xx} 1", "{method=DELETE,route=unmatched} 1"},
		{"wildcard mount", "GET", "/files/a/b/c.css", "{method=GET,route=/files/*,status_class=2xx} 1", "{method=GET,route=/files/*} 1"},
		{"invented method", "BREW", "/pay/cs_abc", "{method=other,route=unmatched,status_class=4xx} 1", "{method=other,route=unmatched} 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			reg := prometheus.NewRegistry()
			h := metricsRouter(reg)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
			require.Equal(t, []string{tt.wantRequests}, series(t, reg, "herald_http_requests_total"))
			require.Equal(t, []string{tt.wantDurations}, series(t, reg, "herald_http_request_duration_seconds"))
		})
	}
}
