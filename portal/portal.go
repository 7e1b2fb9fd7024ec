package portal

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/htmlpage"
	"github.com/heraldpay/herald/internal/httpapi"
)

// Lifetime is how long a portal link works.
const Lifetime = time.Hour

// Session is an open portal link.
type Session struct {
	// ID (ps_…) names the session in logs; the token is never logged.
	ID         string
	MerchantID string
	// CSRFToken is carried by every form of the portal.
	CSRFToken string
	Created   time.Time
	ExpiresAt time.Time
}

// ErrSessionNotFound means no portal session has the token.
var ErrSessionNotFound = errors.New("portal session not found")

// SessionStore keeps portal sessions, by a digest of their token.
type SessionStore interface {
	// Create stores a new session for merchantID, expiring at expiresAt,
	// and returns it with its token (shown once, in the link).
	Create(ctx context.Context, merchantID string, now, expiresAt time.Time) (*Session, string, error)
	// Find returns the session of token, expired or not. Errors:
	// ErrSessionNotFound.
	Find(ctx context.Context, token string) (*Session, error)
}

// Config holds the portal's collaborators.
type Config struct {
	// Sessions stores the links. Required.
	Sessions SessionStore
	// Endpoints and Deliveries read and act for the session's merchant.
	// Required.
	Endpoints  delivery.EndpointService
	Deliveries delivery.DeliveryService
	// Events shows each delivery's payload; nil leaves it out.
	Events delivery.EventService
	// PublicURL is Herald's base URL, for the links. Required. An https
	// one marks the portal's cookie Secure.
	PublicURL string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Portal serves the merchant portal below /portal and its API route.
type Portal struct {
	cfg   Config
	pages *renderer
	cop   *http.CrossOriginProtection
}

// New returns a Portal. It panics when a required field is missing: a
// wiring bug.
func New(cfg Config) *Portal {
	if cfg.Sessions == nil || cfg.Endpoints == nil || cfg.Deliveries == nil || cfg.PublicURL == "" {
		panic("portal: Sessions, Endpoints, Deliveries and PublicURL are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Portal{cfg: cfg, pages: newRenderer(cfg.Logger)}
	p.cop = htmlpage.CrossOriginProtection(p.message,
		"This form was sent from another site, so nothing was done. Open your portal link and try again.")
	return p
}

// RegisterAPI adds POST /portal_sessions to the merchant API router r
// (mounted at /v1, behind its authentication).
func (p *Portal) RegisterAPI(r chi.Router) {
	r.Post("/portal_sessions", p.handleSessionCreate)
}

// sessionJSON is the API object of a portal session.
type sessionJSON struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	URL       string `json:"url"`
	Created   int64  `json:"created"`
	ExpiresAt int64  `json:"expires_at"`
}

func (p *Portal) handleSessionCreate(w http.ResponseWriter, r *http.Request) {
	// No parameters yet; an empty JSON object is accepted, anything else
	// named.
	var params struct{}
	if err := httpapi.DecodeOptional(w, r, httpapi.DefaultMaxBody, &params); err != nil {
		httpapi.WriteError(w, r, p.cfg.Logger, err)
		return
	}
	now := p.cfg.Now()
	s, token, err := p.cfg.Sessions.Create(r.Context(), httpapi.MerchantID(r.Context()), now, now.Add(Lifetime))
	if err != nil {
		httpapi.WriteError(w, r, p.cfg.Logger, err)
		return
	}
	link := p.cfg.PublicURL + "/portal/open?" + url.Values{"token": {token}}.Encode()
	httpapi.WriteJSON(w, http.StatusOK, sessionJSON{ID: s.ID, Object: "portal_session", URL: link,
		Created: s.Created.Unix(), ExpiresAt: s.ExpiresAt.Unix()})
}

// Register mounts the portal's pages at /portal on r.
func (p *Portal) Register(r chi.Router) {
	r.Route("/portal", func(r chi.Router) {
		r.Use(p.cop.Handler)
		r.Get("/assets/*", serveAssets)
		r.Get("/open", p.handleOpen)
		r.Group(func(r chi.Router) {
			r.Use(p.requireSession)
			r.Get("/", p.handleEndpoints)
			r.Get("/endpoints/{id}", p.handleEndpoint)
			r.Get("/deliveries/{id}", p.handleDelivery)
			r.Group(func(r chi.Router) {
				r.Use(p.requireToken)
				r.Post("/endpoints/{id}/test", p.handleTest)
				r.Post("/endpoints/{id}/roll_secret", p.handleRollSecret)
				r.Post("/endpoints/{id}/send_missed", p.handleSendMissed)
				r.Post("/deliveries/{id}/redrive", p.handleRedrive)
			})
		})
		r.NotFound(p.requireSession(http.HandlerFunc(p.notFound)).ServeHTTP)
		r.MethodNotAllowed(p.requireSession(htmlpage.NotAllowed(p.message)).ServeHTTP)
	})
}

// secureCookies reports whether the portal is served over https.
func (p *Portal) secureCookies() bool { return strings.HasPrefix(p.cfg.PublicURL, "https://") }
