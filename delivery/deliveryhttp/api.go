// Package deliveryhttp serves the delivery engine's merchant API: webhook
// endpoints, events, deliveries with their attempts, and redrives.
package deliveryhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
	"github.com/heraldpay/herald/webhook"
)

// API serves the routes below /v1. Authentication, idempotency and rate
// limits come from the router it is mounted on.
type API struct {
	Endpoints  delivery.EndpointService
	Events     delivery.EventService
	Deliveries delivery.DeliveryService
	// Stream serves GET /events/stream; nil leaves the route out.
	Stream *Stream
	Logger *slog.Logger
}

// Register adds the routes to r (mounted at /v1).
func (a *API) Register(r chi.Router) {
	r.Post("/webhook_endpoints", a.handleEndpointCreate)
	r.Get("/webhook_endpoints", a.handleEndpointList)
	r.Get("/webhook_endpoints/{id}", byID(a, "we", a.Endpoints.FindEndpoint))
	r.Patch("/webhook_endpoints/{id}", a.handleEndpointUpdate)
	r.Delete("/webhook_endpoints/{id}", a.handleEndpointDelete)
	r.Post("/webhook_endpoints/{id}/roll_secret", a.handleEndpointRollSecret)
	r.Post("/webhook_endpoints/{id}/test", byID(a, "we", a.Endpoints.SendTestEvent))
	r.Get("/events", a.handleEventList)
	if a.Stream != nil {
		r.Get("/events/stream", a.Stream.ServeHTTP)
	}
	r.Get("/events/{id}", byID(a, "evt", a.Events.FindEvent))
	r.Get("/deliveries", a.handleDeliveryList)
	r.Get("/deliveries/{id}", byID(a, "dlv", a.Deliveries.FindDelivery))
	r.Post("/deliveries/{id}/redrive", byID(a, "dlv", a.Deliveries.RedriveDelivery))
	r.Post("/redrives", a.handleRedriveCreate)
	r.Get("/redrives/{id}", byID(a, "rdr", a.Deliveries.FindRedrive))
	r.Post("/redrives/{id}/cancel", byID(a, "rdr", a.Deliveries.CancelRedrive))
}

// respond writes v, or the error mapped by a.error.
func (a *API) respond(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		a.error(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
}

// byID is the handler of a route on one of the merchant's objects: the
// path's {id}, its prefix checked, goes to fn with the merchant, and fn's
// answer is the response.
func byID[T any](a *API, prefix string, fn func(ctx context.Context, merchantID, id string) (T, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if objectID, ok := a.pathID(w, r, prefix); ok {
			v, err := fn(r.Context(), httpapi.MerchantID(r.Context()), objectID)
			a.respond(w, r, v, err)
		}
	}
}

// pathID returns the {id} URL parameter when it has the expected prefix;
// anything else cannot exist, so it is answered 404 without a query.
func (a *API) pathID(w http.ResponseWriter, r *http.Request, prefix string) (string, bool) {
	v := chi.URLParam(r, "id")
	if !id.HasPrefix(v, prefix) {
		a.error(w, r, delivery.ErrNotFound)
		return "", false
	}
	return v, true
}

func (a *API) handleEndpointCreate(w http.ResponseWriter, r *http.Request) {
	var p delivery.EndpointParams
	if err := httpapi.Decode(w, r, httpapi.DefaultMaxBody, &p); err != nil {
		a.error(w, r, err)
		return
	}
	e, err := a.Endpoints.CreateEndpoint(r.Context(), httpapi.MerchantID(r.Context()), p)
	a.respond(w, r, e, err)
}

func (a *API) handleEndpointList(w http.ResponseWriter, r *http.Request) {
	pg, err := httpapi.ParsePage(r)
	if err != nil {
		a.error(w, r, err)
		return
	}
	list, more, err := a.Endpoints.ListEndpoints(r.Context(), httpapi.MerchantID(r.Context()), pg.Limit, pg.StartingAfter)
	a.respond(w, r, httpapi.NewList(list, more), err)
}

func (a *API) handleEndpointUpdate(w http.ResponseWriter, r *http.Request) {
	endpointID, ok := a.pathID(w, r, "we")
	if !ok {
		return
	}
	var p delivery.EndpointParams
	if err := httpapi.Decode(w, r, httpapi.DefaultMaxBody, &p); err != nil {
		a.error(w, r, err)
		return
	}
	e, err := a.Endpoints.UpdateEndpoint(r.Context(), httpapi.MerchantID(r.Context()), endpointID, p)
	a.respond(w, r, e, err)
}

func (a *API) handleEndpointDelete(w http.ResponseWriter, r *http.Request) {
	endpointID, ok := a.pathID(w, r, "we")
	if !ok {
		return
	}
	err := a.Endpoints.DeleteEndpoint(r.Context(), httpapi.MerchantID(r.Context()), endpointID)
	a.respond(w, r, map[string]any{"id": endpointID, "object": "webhook_endpoint", "deleted": true}, err)
}

func (a *API) handleEndpointRollSecret(w http.ResponseWriter, r *http.Request) {
	endpointID, ok := a.pathID(w, r, "we")
	if !ok {
		return
	}
	var p struct {
		ExpirePreviousIn *int64 `json:"expire_previous_in"`
	}
	if err := httpapi.DecodeOptional(w, r, httpapi.DefaultMaxBody, &p); err != nil {
		a.error(w, r, err)
		return
	}
	overlap := delivery.DefaultSecretOverlap
	if p.ExpirePreviousIn != nil {
		// Clamp before converting so a huge value cannot overflow; the
		// service rejects anything out of range.
		overlap = time.Duration(min(max(*p.ExpirePreviousIn, -1), int64(delivery.MaxSecretOverlap/time.Second)+1)) * time.Second
	}
	e, err := a.Endpoints.RollSecret(r.Context(), httpapi.MerchantID(r.Context()), endpointID, overlap)
	a.respond(w, r, e, err)
}

func (a *API) handleEventList(w http.ResponseWriter, r *http.Request) {
	f, err := parseEventFilter(r)
	if err != nil {
		a.error(w, r, err)
		return
	}
	list, more, err := a.Events.ListEvents(r.Context(), httpapi.MerchantID(r.Context()), f)
	a.respond(w, r, httpapi.NewList(list, more), err)
}

// parseEventFilter reads the events list's filters and paging:
// created[gte] and created[lt] (Unix seconds), type, delivery_success,
// limit, starting_after and ending_before.
func parseEventFilter(r *http.Request) (delivery.EventFilter, error) {
	pg, err := httpapi.ParsePage(r)
	if err != nil {
		return delivery.EventFilter{}, err
	}
	q := r.URL.Query()
	f := delivery.EventFilter{Type: q.Get("type"), Limit: pg.Limit, StartingAfter: pg.StartingAfter, EndingBefore: q.Get("ending_before")}
	if f.Type != "" {
		if err := knownEventType("type", f.Type); err != nil {
			return f, err
		}
	}
	for _, c := range []struct {
		param string
		dst   **time.Time
	}{{"created[gte]", &f.CreatedGTE}, {"created[lt]", &f.CreatedLT}} {
		v := q.Get(c.param)
		if v == "" {
			continue
		}
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil || sec < 0 || sec > maxUnix {
			return f, &validation.Error{Param: c.param, Code: "parameter_invalid_integer",
				Message: c.param + " must be a time in Unix seconds."}
		}
		t := time.Unix(sec, 0)
		*c.dst = &t
	}
	switch v := q.Get("delivery_success"); v {
	case "":
	case "true", "false":
		ok := v == "true"
		f.DeliverySuccess = &ok
	default:
		return f, &validation.Error{Param: "delivery_success", Code: validation.CodeInvalid,
			Message: "delivery_success must be true or false."}
	}
	return f, nil // ListEvents validates the whole filter
}

// knownEventType refuses typ, the value of param, unless it is an event
// type Herald sends.
func knownEventType(param, typ string) error {
	if slices.Contains(webhook.EventTypes, typ) {
		return nil
	}
	return &validation.Error{Param: param, Code: validation.CodeInvalid, Message: fmt.Sprintf("unknown event type %q.", typ)}
}

// maxUnix is the latest time a filter accepts (year 9999), so that every
// accepted value is a time Postgres can compare.
const maxUnix = 253402300799

func (a *API) handleDeliveryList(w http.ResponseWriter, r *http.Request) {
	pg, err := httpapi.ParsePage(r)
	if err != nil {
		a.error(w, r, err)
		return
	}
	q := r.URL.Query()
	f := delivery.DeliveryFilter{EndpointID: q.Get("endpoint_id"), EventID: q.Get("event_id"), Status: delivery.Status(q.Get("status"))}
	if f.Status != "" && !slices.Contains(delivery.Statuses, f.Status) {
		a.error(w, r, &validation.Error{Param: "status", Code: validation.CodeInvalid,
			Message: "status must be pending, succeeded, failed, canceled or skipped."})
		return
	}
	list, more, err := a.Deliveries.ListDeliveries(r.Context(), httpapi.MerchantID(r.Context()), f, pg.Limit, pg.StartingAfter)
	a.respond(w, r, httpapi.NewList(list, more), err)
}

func (a *API) handleRedriveCreate(w http.ResponseWriter, r *http.Request) {
	var p delivery.RedriveParams
	if err := httpapi.DecodeOptional(w, r, httpapi.DefaultMaxBody, &p); err != nil {
		a.error(w, r, err)
		return
	}
	if p.EventType != "" {
		if err := knownEventType("event_type", p.EventType); err != nil {
			a.error(w, r, err)
			return
		}
	}
	rd, err := a.Deliveries.CreateRedrive(r.Context(), httpapi.MerchantID(r.Context()), p)
	a.respond(w, r, rd, err)
}

// error maps delivery's errors to API errors: the one place that decides
// statuses for this package.
func (a *API) error(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, delivery.ErrNotFound):
		err = httpapi.NotFound(fmt.Sprintf("No such object: '%s'.", chi.URLParam(r, "id")))
	case errors.Is(err, delivery.ErrEndpointDisabled):
		err = &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeInvalidRequest, Code: "endpoint_disabled",
			Message: "The endpoint is disabled or deleted; re-enable it first."}
	case errors.Is(err, delivery.ErrRedriveFinished):
		err = &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeInvalidRequest, Code: "redrive_finished",
			Message: "This redrive has already finished."}
	}
	httpapi.WriteError(w, r, a.Logger, err)
}
