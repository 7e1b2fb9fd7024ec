package dashboard

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/htmlpage"
)

// Config configures the dashboard.
type Config struct {
	// Password is the shared operator password. Required. Only its keyed
	// digest is kept.
	Password string
	// Key keys the password digest and the sign-in form tokens; every
	// Herald process must use the same one. Required.
	Key []byte
	// PreviousKeys are accepted for sign-in form tokens too: the keyring's
	// older keys, so that a form shown before a key rotation still works.
	// (The password digest is computed at start and never stored, so it
	// needs no old key.)
	PreviousKeys [][]byte
	// Sessions, Audit and Reads are the dashboard's storage. Required.
	Sessions SessionStore
	Audit    AuditLog
	Reads    ReadModel
	// Deliveries, Endpoints, Payments and Keys carry out operator actions.
	// Required.
	Deliveries Deliveries
	Endpoints  Endpoints
	Payments   Payments
	Keys       account.KeyService
	// RiverUI is served at RiverUIPrefix behind the sign-in. Nil leaves it
	// out.
	RiverUI http.Handler
	// SecureCookies marks cookies Secure; set it when served over https.
	SecureCookies bool
	// SignInRate is how many sign-in attempts one client IP may make per
	// minute. Default 10.
	SignInRate int
	// Timeouts bound sessions. Defaults 1h idle, 12h in all.
	Timeouts SessionTimeouts
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Dashboard serves the operator dashboard below /dashboard.
type Dashboard struct {
	cfg    Config
	digest []byte
	pages  *renderer
	cop    *http.CrossOriginProtection
}

// New returns a Dashboard. It panics when a required field is missing: a
// wiring bug.
func New(cfg Config) *Dashboard {
	if cfg.Password == "" || len(cfg.Key) == 0 || cfg.Sessions == nil || cfg.Audit == nil || cfg.Reads == nil ||
		cfg.Deliveries == nil || cfg.Endpoints == nil || cfg.Payments == nil || cfg.Keys == nil {
		panic("dashboard: Password, Key, Sessions, Audit, Reads, Deliveries, Endpoints, Payments and Keys are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SignInRate <= 0 {
		cfg.SignInRate = 10
	}
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	d := &Dashboard{cfg: cfg, digest: passwordDigest(cfg.Key, cfg.Password), pages: newRenderer(cfg.Logger, cfg.Now)}
	// The plain password is not needed past this point.
	d.cfg.Password = ""
	d.cop = htmlpage.CrossOriginProtection(d.message,
		"This form was sent from another site, so it was not processed. Open the dashboard and try again.")
	return d
}

// Register mounts the dashboard at /dashboard on r.
func (d *Dashboard) Register(r chi.Router) {
	signInLimit := d.signInLimiter()
	r.Route("/dashboard", func(r chi.Router) {
		// Every state-changing request (forms, River UI's API) must come
		// from the dashboard's own pages.
		r.Use(d.cop.Handler)
		r.Get("/assets/*", serveAssets)
		r.Get("/login", d.handleSignInPage)
		r.With(signInLimit).Post("/login", d.handleSignIn)
		r.Group(func(r chi.Router) {
			r.Use(d.requireSession)
			r.Get("/", d.handleOverview)
			r.Get("/deliveries", d.handleDeliveries)
			r.Get("/deliveries/{id}", d.handleDelivery)
			r.Get("/redrives", d.handleRedrives)
			r.Get("/redrives/{id}", d.handleRedrive)
			r.Get("/endpoints", d.handleEndpoints)
			r.Get("/payments", d.handlePayments)
			r.Get("/payments/{id}", d.handlePayment)
			r.Get("/keys", d.handleKeys)
			r.Get("/audit", d.handleAudit)
			if d.cfg.RiverUI != nil {
				river := d.riverUI(d.cfg.RiverUI)
				r.Handle("/river", river)
				r.Handle("/river/*", river)
			}
			r.Group(func(r chi.Router) {
				r.Use(d.requireToken)
				r.Post("/logout", d.handleSignOut)
				r.Post("/deliveries/{id}/redrive", d.handleDeliveryRedrive)
				r.Post("/redrives", d.handleRedriveCreate)
				r.Post("/redrives/{id}/cancel", d.handleRedriveCancel)
				r.Post("/endpoints/{id}/{action}", d.handleEndpointAction)
				r.Post("/payments/{id}/clear", d.handleVelocityClear)
				r.Post("/keys/{id}/{action}", d.handleKeyAction)
			})
		})
		// Unknown pages are for signed-in operators only, like the rest.
		r.NotFound(d.requireSession(http.HandlerFunc(d.notFound)).ServeHTTP)
		r.MethodNotAllowed(d.requireSession(htmlpage.NotAllowed(d.message)).ServeHTTP)
	})
}

// RegisterDisabled mounts, at /dashboard, a page saying how to turn the
// dashboard on, answered with 404 for every dashboard URL. Herald mounts it
// when no operator password is configured.
func RegisterDisabled(r chi.Router, logger *slog.Logger) {
	pages := newRenderer(logger, time.Now)
	disabled := func(w http.ResponseWriter, r *http.Request) {
		pages.render(w, r, http.StatusNotFound, "message", view{Title: "Dashboard disabled", Data: messageView{
			Heading: "The operator dashboard is disabled",
			Message: "Set HERALD_DASHBOARD_PASSWORD (at least 12 characters in production, 8 in dev) and restart Herald to turn it on.",
		}})
	}
	r.Route("/dashboard", func(r chi.Router) {
		r.Get("/assets/*", serveAssets)
		r.HandleFunc("/*", disabled)
		r.HandleFunc("/", disabled)
	})
}
