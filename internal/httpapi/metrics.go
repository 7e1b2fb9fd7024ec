package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// RouteUnmatched is the route label of requests that matched no route.
const RouteUnmatched = "unmatched"

// HTTPMetrics counts and times the requests a chi router answers, by route
// pattern (/v1/checkout/sessions/{id}, never the path itself), method and
// status class: every label comes from a set fixed by the code, whatever the
// clients send.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewHTTPMetrics registers herald_http_requests_total and
// herald_http_request_duration_seconds on reg.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_http_requests_total",
			Help: "HTTP requests answered, by route pattern (or unmatched), method and status class (1xx…5xx).",
		}, []string{"route", "method", "status_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by route pattern (or unmatched) and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// Middleware measures each request. Use it on the top router: chi fills in
// the matched pattern while the request goes down the tree, so it is read
// once the handler has returned.
func (m *HTTPMetrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.StatusOrOK()
		route, method := routeLabel(r, status), methodLabel(r.Method)
		m.requests.WithLabelValues(route, method, strconv.Itoa(status/100)+"xx").Inc()
		m.duration.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
	})
}

// routeLabel is the pattern of the route that answered r, or
// RouteUnmatched. A subrouter's fallback (its pattern ends in /*) answering
// 404 or 405 matched nothing either.
func routeLabel(r *http.Request, status int) string {
	pattern := chi.RouteContext(r.Context()).RoutePattern()
	if pattern == "" || (strings.HasSuffix(pattern, "/*") && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed)) {
		return RouteUnmatched
	}
	return pattern
}

// methodLabel keeps the standard methods and folds any other, which a
// client may invent freely, into "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}
