// Package checkouthttp serves checkout over HTTP: the merchant API for
// checkout sessions and the hosted payment page customers pay on.
package checkouthttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
)

// API serves /v1/checkout/sessions. Authentication, idempotency and rate
// limits are applied by the router it is mounted on.
type API struct {
	Sessions checkout.SessionService
	Logger   *slog.Logger
	// MaxBody bounds request bodies. Default httpapi.DefaultMaxBody.
	MaxBody int64
}

// Register adds the session routes to r (mounted at /v1).
func (a *API) Register(r chi.Router) {
	r.Post("/checkout/sessions", a.handleSessionCreate)
	r.Get("/checkout/sessions", a.handleSessionList)
	r.Get("/checkout/sessions/{id}", a.handleSessionGet)
	r.Post("/checkout/sessions/{id}/expire", a.handleSessionExpire)
}

func (a *API) handleSessionCreate(w http.ResponseWriter, r *http.Request) {
	var params checkout.CreateSessionParams
	maxBody := a.MaxBody
	if maxBody == 0 {
		maxBody = httpapi.DefaultMaxBody
	}
	if err := httpapi.Decode(w, r, maxBody, &params); err != nil {
		a.error(w, r, err)
		return
	}
	sess, err := a.Sessions.CreateSession(r.Context(), httpapi.MerchantID(r.Context()), params)
	if err != nil {
		a.error(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, sess)
}

func (a *API) handleSessionGet(w http.ResponseWriter, r *http.Request) {
	a.serveSession(w, r, a.Sessions.FindSession)
}

func (a *API) handleSessionList(w http.ResponseWriter, r *http.Request) {
	page, err := httpapi.ParsePage(r)
	if err != nil {
		a.error(w, r, err)
		return
	}
	list, hasMore, err := a.Sessions.ListSessions(r.Context(), httpapi.MerchantID(r.Context()), page.Limit, page.StartingAfter)
	if err != nil {
		a.error(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, httpapi.NewList(list, hasMore))
}

func (a *API) handleSessionExpire(w http.ResponseWriter, r *http.Request) {
	a.serveSession(w, r, a.Sessions.ExpireSession)
}

// serveSession answers with what do, a look-up or a change of one of the
// merchant's sessions, returns for the session the URL names. An id that
// cannot be a session's is not found without asking.
func (a *API) serveSession(w http.ResponseWriter, r *http.Request,
	do func(ctx context.Context, merchantID, sessionID string) (*checkout.Session, error)) {
	sessionID := chi.URLParam(r, "id")
	if !id.HasPrefix(sessionID, "cs") {
		a.error(w, r, checkout.ErrNotFound)
		return
	}
	sess, err := do(r.Context(), httpapi.MerchantID(r.Context()), sessionID)
	if err != nil {
		a.error(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, sess)
}

// error maps checkout's errors to API errors: the one place that decides
// statuses for this package.
func (a *API) error(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		err = httpapi.NotFound(fmt.Sprintf("No such checkout session: '%s'.", chi.URLParam(r, "id")))
	case errors.Is(err, checkout.ErrSessionComplete):
		err = &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeInvalidRequest, Code: "session_complete",
			Message: "This checkout session is already complete and cannot be expired."}
	}
	httpapi.WriteError(w, r, a.Logger, err)
}
