package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/checkout/checkouthttp"
	"github.com/heraldpay/herald/checkout/checkoutpg"
	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/account"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/idempotency"
	"github.com/heraldpay/herald/migrations"
)

// Server is one Herald process: its Postgres pool, HTTP listener and River
// client, wired from a Config. Tests run it on 127.0.0.1:0.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	pool     *pgxpool.Pool
	river    *river.Client[pgx.Tx]
	ln       net.Listener
	http     *http.Server
	serveErr chan error

	// Checkout is the checkout service, exposed for tests.
	Checkout *checkoutpg.Service
}

// NewServer connects, migrates (when configured), wires every component and
// binds the listener. Nothing is served until Start.
func NewServer(ctx context.Context, cfg Config, logger *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, logger: logger, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			s.close()
		}
	}()

	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("invalid DATABASE_URL: %w", err)
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, poolCfg); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if cfg.Migrate {
		if _, err := migrations.Up(ctx, s.pool); err != nil {
			return nil, err
		}
	}
	secret := cfg.Secret
	if secret == "" {
		if secret, err = devSecret(ctx, s.pool); err != nil {
			return nil, err
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if s.cfg.PublicURL == "" {
		s.cfg.PublicURL = "http://" + s.ln.Addr().String()
	}

	s.Checkout = checkoutpg.NewService(s.pool, checkoutpg.Config{
		Acquirer:       checkout.NewTestAcquirer(deriveKey(secret, "test-acquirer")),
		Publisher:      deliverypg.NewPublisher(),
		FingerprintKey: deriveKey(secret, "card-fingerprint"),
		PublicURL:      s.cfg.PublicURL,
		Metrics:        checkoutpg.NewMetrics(reg),
		Logger:         logger,
	})
	if err := s.Checkout.SeedBlocklist(ctx); err != nil {
		return nil, err
	}
	idem := idempotency.NewStore(s.pool, logger)

	if s.river, err = s.newRiver(idem); err != nil {
		return nil, err
	}

	r := chi.NewRouter()
	r.Use(httpapi.RequestIDs, httpapi.AccessLog(logger), httpapi.Recover(logger))
	r.Get("/healthz", s.handleHealth)
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if cfg.hasRole(roleAPI) {
		r.Route("/v1", func(r chi.Router) {
			r.Use(httpapi.RequireKey(account.NewStore(s.pool), logger), httpapi.RateLimit(cfg.RateLimit, logger), idem.Middleware)
			(&checkouthttp.API{Sessions: s.Checkout, Logger: logger}).Register(r)
			r.NotFound(func(w http.ResponseWriter, r *http.Request) {
				httpapi.WriteError(w, r, logger, httpapi.NotFound("Unrecognized request URL ("+r.Method+" "+r.URL.Path+")."))
			})
			r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
				httpapi.WriteError(w, r, logger, &httpapi.Error{Status: http.StatusMethodNotAllowed, Type: httpapi.TypeInvalidRequest,
					Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path + "."})
			})
		})
		checkouthttp.NewPages(checkouthttp.PagesConfig{
			Payments: s.Checkout, CSRFKey: deriveKey(secret, "pay-csrf"),
			SecureCookies: strings.HasPrefix(s.cfg.PublicURL, "https://"), Logger: logger,
		}).Register(r)
	}
	s.http = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (s *Server) newRiver(idem *idempotency.Store) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, checkoutpg.NewExpireSessionsWorker(s.Checkout))
	river.AddWorker(workers, idempotency.NewCleanupWorker(idem))
	cfg := &river.Config{
		Logger:  slog.New(levelFloor{s.logger.Handler(), slog.LevelWarn}),
		Workers: workers,
		// A job whose process died is retried after this long instead of
		// River's default hour.
		RescueStuckJobsAfter: 2 * time.Minute,
	}
	if s.cfg.hasRole(roleWorker) {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}}
		cfg.PeriodicJobs = []*river.PeriodicJob{
			checkoutpg.ExpiryPeriodicJob(s.cfg.ExpiryInterval),
			idempotency.CleanupPeriodicJob(time.Hour),
		}
	}
	client, err := river.NewClient(riverpgxv5.New(s.pool), cfg)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// Start serves HTTP and, with the worker role, starts working jobs.
func (s *Server) Start(ctx context.Context) error {
	if s.cfg.hasRole(roleWorker) {
		// River keeps the start context for its lifetime: detach it from the
		// caller's cancellation so shutdown happens through Stop, which drains.
		if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
	}
	go func() {
		err := s.http.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr <- err
	}()
	return nil
}

// URL is the public base URL, e.g. http://127.0.0.1:8080.
func (s *Server) URL() string { return s.cfg.PublicURL }

// Pool is the server's Postgres pool.
func (s *Server) Pool() *pgxpool.Pool { return s.pool }

// Wait blocks until the HTTP server stops on its own (an error) or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case err := <-s.serveErr:
		return err
	case <-ctx.Done():
		return nil
	}
}

// Shutdown drains: no new connections, in-flight requests finish, running
// jobs finish (River's Stop waits for them), then the pool closes. If ctx
// ends first, remaining jobs are cancelled; River retries them later.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if err := s.http.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	if s.cfg.hasRole(roleWorker) {
		if err := s.river.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("river stop: %w", err))
			hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = s.river.StopAndCancel(hard)
		}
	}
	s.close()
	return errors.Join(errs...)
}

func (s *Server) close() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "unreachable"})
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// devSecret returns the development secret shared by every process on this
// database, generating it on first use.
func devSecret(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	_, err := pool.Exec(ctx, `INSERT INTO herald_settings (name, value) VALUES ('dev_secret', $1) ON CONFLICT (name) DO NOTHING`, id.Random(48))
	if err != nil {
		return "", fmt.Errorf("store dev secret (has `herald migrate` run?): %w", err)
	}
	var secret string
	if err := pool.QueryRow(ctx, `SELECT value FROM herald_settings WHERE name = 'dev_secret'`).Scan(&secret); err != nil {
		return "", fmt.Errorf("read dev secret: %w", err)
	}
	return secret, nil
}

// deriveKey gives each use of the server secret its own key, so that a
// value signed for one purpose is never valid for another.
func deriveKey(secret, purpose string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("herald/" + purpose))
	return m.Sum(nil)
}

// levelFloor drops records below min: River's info logs are too chatty
// for Herald's own log stream.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(attrs), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}
