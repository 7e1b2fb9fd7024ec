// Package accounthttp serves a merchant's own API keys on the merchant API:
// list them, roll the key in use, revoke one.
package accounthttp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
)

// API serves the routes below /v1. Authentication (which says which key is
// in use), idempotency and rate limits come from the router it is mounted
// on.
type API struct {
	Keys   account.KeyService
	Logger *slog.Logger
}

// Register adds the routes to r (mounted at /v1).
//
// Rolling applies to the key that authenticates the request: whoever rolls
// a key holds it. Revoking takes any of the merchant's keys by id, so that
// a leaked key can be ended with another one.
func (a *API) Register(r chi.Router) {
	r.Get("/api_keys", a.handleList)
	r.Post("/api_keys/roll", a.handleRoll)
	r.Post("/api_keys/{id}/revoke", a.handleRevoke)
}

func (a *API) respond(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		a.error(w, r, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, v)
}

func (a *API) handleList(w http.ResponseWriter, r *http.Request) {
	pg, err := httpapi.ParsePage(r)
	if err != nil {
		a.error(w, r, err)
		return
	}
	list, more, err := a.Keys.ListKeys(r.Context(), httpapi.MerchantID(r.Context()), pg.Limit, pg.StartingAfter)
	a.respond(w, r, httpapi.NewList(list, more), err)
}

func (a *API) handleRoll(w http.ResponseWriter, r *http.Request) {
	var p struct {
		ExpirePreviousIn *int64 `json:"expire_previous_in"`
	}
	if err := httpapi.DecodeOptional(w, r, httpapi.DefaultMaxBody, &p); err != nil {
		a.error(w, r, err)
		return
	}
	overlap := account.DefaultKeyOverlap
	if p.ExpirePreviousIn != nil {
		// Clamp before converting so a huge value cannot overflow; the
		// store rejects anything out of range.
		overlap = time.Duration(min(max(*p.ExpirePreviousIn, -1), int64(account.MaxKeyOverlap/time.Second)+1)) * time.Second
	}
	created, old, err := a.Keys.RollKey(r.Context(), httpapi.MerchantID(r.Context()), httpapi.KeyID(r.Context()), overlap)
	// The answer is the new key, its secret shown this once, with the
	// rolled key and its expiry under "previous".
	a.respond(w, r, account.RolledKey{Created: created, Previous: old}, err)
}

func (a *API) handleRevoke(w http.ResponseWriter, r *http.Request) {
	keyID := chi.URLParam(r, "id")
	if !id.HasPrefix(keyID, account.KeyIDPrefix) {
		a.error(w, r, account.ErrKeyNotFound)
		return
	}
	k, err := a.Keys.RevokeKey(r.Context(), httpapi.MerchantID(r.Context()), keyID)
	a.respond(w, r, k, err)
}

// error maps account's errors to API errors: the one place that decides
// statuses for this package.
func (a *API) error(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, account.ErrKeyNotFound):
		err = httpapi.NotFound(fmt.Sprintf("No such API key: '%s'.", chi.URLParam(r, "id")))
	case errors.Is(err, account.ErrKeyInactive):
		err = &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeInvalidRequest, Code: "api_key_inactive",
			Message: "This API key is revoked or expired; there is nothing to roll."}
	case errors.Is(err, account.ErrLastKey):
		err = &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeInvalidRequest, Code: "last_active_api_key",
			Message: "This is the account's last API key that does not expire, so revoking it would lock the account out. " +
				"Roll it instead (POST /v1/api_keys/roll with expire_previous_in 0 ends it at once)."}
	}
	httpapi.WriteError(w, r, a.Logger, err)
}
