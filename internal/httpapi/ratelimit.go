package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/httprate"
)

// RateLimit allows each merchant perSecond requests per second (a sliding
// window), answering 429 rate_limit_error with Retry-After beyond that. It
// must run after RequireKey. Counters are per process: with N API processes
// a merchant may reach N × perSecond.
func RateLimit(perSecond int, logger *slog.Logger) func(http.Handler) http.Handler {
	return httprate.LimitBy(perSecond, time.Second,
		func(r *http.Request) (string, error) { return MerchantID(r.Context()), nil },
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, logger, &Error{Status: http.StatusTooManyRequests, Type: TypeRateLimit, Code: "rate_limit",
				Message: "Too many requests. Slow down and retry after the number of seconds in Retry-After."})
		}),
	)
}
