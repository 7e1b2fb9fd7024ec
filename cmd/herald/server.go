package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/heraldpay/herald/account/accounthttp"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/checkout/checkouthttp"
	"github.com/heraldpay/herald/checkout/checkoutpg"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliveryhttp"
	"github.com/heraldpay/herald/delivery/deliverynet"
	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/idempotency"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/migrations"
	"github.com/heraldpay/herald/portal"
	"github.com/heraldpay/herald/portal/portalpg"
)

// defaultPoolConns is the Postgres pool size unless DATABASE_URL sets
// pool_max_conns: enough for the workers' record transactions and River's
// own queries without crowding Postgres's default 100 connections when a
// few processes share it.
const defaultPoolConns = 24

// sidePoolConns sizes the second pool, for the writes that commit on their
// own while a payment's transaction holds a connection of the first: the
// processing charge with its reconcile job, and the test acquirer's ledger.
const sidePoolConns = 4

// Server is one Herald process: its Postgres pool, HTTP listener and River
// client, wired from a Config. Tests run it on 127.0.0.1:0.
type Server struct {
	cfg      Config
	logger   *slog.Logger
	pool     *pgxpool.Pool
	sidePool *pgxpool.Pool
	river    *river.Client[pgx.Tx]
	ln       net.Listener
	http     *http.Server
	serveErr chan error
	breakers *delivery.Breakers
	// stopBackground stops the breaker state writer and the delivery
	// worker's batching loops, and waits for them.
	stopBackground func()
	deliverWorker  *deliverypg.DeliverWorker
	pruner         *deliverypg.Pruner
	closers        []func()
	// dashboard runs the operator dashboard's River UI (dashboard.go).
	dashboard operatorDashboard
	// stream serves the live event stream (nil without the api role).
	stream *deliveryhttp.Stream

	// Operations (admin.go): the metrics registry, the admin listener,
	// and what readiness needs to know.
	registry     *prometheus.Registry
	adminLn      net.Listener
	adminHTTP    *http.Server
	riverStarted atomic.Bool
	draining     atomic.Bool

	// Checkout and Delivery are the services, exposed for tests.
	Checkout *checkoutpg.Service
	Delivery *deliverypg.Service
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

	poolCfg, err := poolConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("invalid DATABASE_URL: %w", err)
	}
	// pgx defaults to max(4, CPUs) connections, which starves hundreds of
	// delivery workers; pool_max_conns in DATABASE_URL still wins.
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		poolCfg.MaxConns = defaultPoolConns
	}
	abortStatementsOfLostClients(poolCfg)
	if s.pool, err = pgxpool.NewWithConfig(ctx, poolCfg); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	sideCfg := poolCfg.Copy()
	sideCfg.MaxConns = sidePoolConns
	if s.sidePool, err = pgxpool.NewWithConfig(ctx, sideCfg); err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if cfg.Migrate {
		if _, err := migrations.Up(ctx, s.pool); err != nil {
			return nil, err
		}
	}
	ring, err := serverKeyring(ctx, s.pool, cfg)
	if err != nil {
		return nil, err
	}
	fingerprints, err := fingerprintKey(ctx, s.pool, ring)
	if err != nil {
		return nil, err
	}
	logger.Info("server keyring", "current_key", ring.Current().ID, "keys", ring.IDs())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerBuildInfo(reg, currentBuild())
	s.registry = reg
	box := ring.Box(purposeWebhookSecrets)
	// Enqueueing goes through an insert-only River client: the services
	// that enqueue (checkout's payment transaction, redrives) exist before
	// the working client, whose workers depend on them.
	inserter, err := river.NewClient(riverpgxv5.New(s.pool), &river.Config{
		Logger: s.riverLogger(), SkipUnknownJobCheck: true,
		// Inserts wake the workers with a NOTIFY at most once per
		// FetchCooldown per queue: River's 100 ms default would leave most
		// new deliveries waiting for the next poll.
		FetchCooldown: cfg.FetchCooldown,
	})
	if err != nil {
		return nil, fmt.Errorf("river insert client: %w", err)
	}
	s.breakers = delivery.NewBreakers(delivery.BreakerSettings{OpenFor: cfg.BreakerOpenFor})
	deliveryMetrics := deliverypg.NewMetrics(reg, s.pool, s.breakers, logger)
	s.Delivery = deliverypg.NewService(s.pool, deliverypg.Config{
		Box: box, Inserter: inserter, RequireHTTPS: cfg.Env == envProduction, Metrics: deliveryMetrics, Logger: logger,
	})

	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if s.cfg.PublicURL == "" {
		s.cfg.PublicURL = devPublicURL(s.ln.Addr())
	}
	if err := s.listenAdmin(); err != nil {
		return nil, err
	}

	accounts := accountpg.NewStore(s.pool)
	s.Checkout = checkoutpg.NewService(s.pool, checkoutpg.Config{
		Acquirer:       newTestAcquirer(ring, checkoutpg.NewLedger(s.sidePool)),
		Publisher:      s.Delivery,
		Merchants:      accounts,
		SidePool:       s.sidePool,
		Jobs:           inserter,
		ReconcileAfter: cfg.ReconcileAfter,
		FingerprintKey: fingerprints,
		PublicURL:      s.cfg.PublicURL,
		Metrics:        checkoutpg.NewMetrics(reg),
		Logger:         logger,
	})
	if err := s.Checkout.SeedBlocklist(ctx); err != nil {
		return nil, err
	}
	idem := idempotency.NewStore(s.pool, ring.Box(purposeIdempotency), logger)

	sender := deliverynet.NewSender(deliverynet.Config{
		Timeout: cfg.DeliveryTimeout,
		Guard:   deliverynet.NewGuard(cfg.AllowPrivateEndpoints),
		// Many merchants' endpoints share a host (a platform's webhook
		// gateway), so every attempt that can run at once may be to one
		// host: keep a warm connection for each, and no more in all. With
		// fewer, the attempts beyond them dial a connection and drop it
		// after one request (a third of a bulk drain's, with 256).
		MaxIdleConnsPerHost: cfg.DeliveryWorkers,
		MaxIdleConns:        cfg.DeliveryWorkers,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return instrumentTransport(reg, rt)
		},
	})
	s.closers = append(s.closers, sender.Close)
	s.deliverWorker = deliverypg.NewDeliverWorker(s.pool, deliverypg.WorkerConfig{
		Sender: sender, Breakers: s.breakers, Box: box, Inserter: inserter, Metrics: deliveryMetrics,
		Policy:              delivery.Policy{Retry: delivery.RetryPolicy{Schedule: cfg.RetrySchedule}, DisableAfter: cfg.DisableEndpointAfter},
		InflightPerEndpoint: cfg.InflightPerEndpoint, InflightPerMerchant: cfg.InflightPerMerchant,
		AttemptTimeout: cfg.DeliveryTimeout, Logger: logger,
	})
	s.pruner = deliverypg.NewPruner(s.pool, deliverypg.PruneConfig{Retention: cfg.Retention, Registerer: reg, Logger: logger})
	if s.river, err = s.newRiver(idem, s.deliverWorker, deliveryMetrics); err != nil {
		return nil, err
	}
	deliveryMetrics.SetLeadership(s.leadership())

	r := chi.NewRouter()
	// GetHead answers HEAD on every GET route (chi's r.Get alone answers 405).
	r.Use(httpapi.RequestIDs, httpapi.NewHTTPMetrics(reg).Middleware, httpapi.AccessLog(logger), httpapi.Recover(logger), middleware.GetHead)
	// The client's address, through the trusted proxies, for everything below.
	r.Use(cfg.TrustedProxies.Middleware)
	if cfg.AdminAddr == "" {
		s.mountOps(r, false)
	}
	if cfg.hasRole(roleAPI) {
		merchantPortal := portal.New(portal.Config{
			Sessions: portalpg.NewStore(s.pool), Endpoints: s.Delivery, Deliveries: s.Delivery, Events: s.Delivery,
			PublicURL: s.cfg.PublicURL, Logger: logger,
		})
		s.stream = deliveryhttp.NewStream(s.Delivery, deliveryhttp.StreamConfig{
			Poll: cfg.StreamPoll, Heartbeat: cfg.StreamHeartbeat, PerMerchant: cfg.StreamsPerMerchant, Logger: logger,
		})
		r.Route("/v1", func(r chi.Router) {
			authFailures := httpapi.NewAuthFailures(httpapi.AuthFailuresConfig{Limit: cfg.AuthFailureLimit})
			r.Use(httpapi.RequireKey(accounts, authFailures, logger), httpapi.RateLimit(cfg.RateLimit, logger),
				httpapi.CheckQuery(logger), idem.Middleware)
			(&checkouthttp.API{Sessions: s.Checkout, Logger: logger}).Register(r)
			(&deliveryhttp.API{Endpoints: s.Delivery, Events: s.Delivery, Deliveries: s.Delivery, Stream: s.stream, Logger: logger}).Register(r)
			(&accounthttp.API{Keys: accounts, Logger: logger}).Register(r)
			merchantPortal.RegisterAPI(r)
			r.NotFound(func(w http.ResponseWriter, r *http.Request) {
				httpapi.WriteError(w, r, logger, httpapi.NotFound("Unrecognized request URL ("+r.Method+" "+r.URL.Path+")."))
			})
			r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
				httpapi.WriteError(w, r, logger, &httpapi.Error{Status: http.StatusMethodNotAllowed, Type: httpapi.TypeInvalidRequest,
					Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path + "."})
			})
		})
		csrfKey, previousCSRFKeys := ring.MACKeys(purposePayCSRF)
		checkouthttp.NewPages(checkouthttp.PagesConfig{
			Payments: s.Checkout, CSRFKey: csrfKey, PreviousCSRFKeys: previousCSRFKeys,
			SecureCookies: strings.HasPrefix(s.cfg.PublicURL, "https://"), Logger: logger,
		}).Register(r)
		merchantPortal.Register(r)
		if err := s.mountDashboard(r, ring, accounts); err != nil {
			return nil, err
		}
	}
	s.http = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if s.stream != nil {
		// Open event streams never go idle: end them as shutdown starts, so
		// that it drains (clients reconnect elsewhere with Last-Event-ID).
		s.http.RegisterOnShutdown(s.stream.Close)
	}
	return s, nil
}

func (s *Server) riverLogger() *slog.Logger {
	return slog.New(levelFloor{s.logger.Handler(), slog.LevelWarn})
}

func (s *Server) newRiver(idem *idempotency.Store, deliver *deliverypg.DeliverWorker, metrics *deliverypg.Metrics) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, checkoutpg.NewExpireSessionsWorker(s.Checkout))
	river.AddWorker(workers, checkoutpg.NewReconcileChargeWorker(s.Checkout))
	river.AddWorker(workers, checkoutpg.NewReconcileSweepWorker(s.Checkout))
	river.AddWorker(workers, idempotency.NewCleanupWorker(idem))
	river.AddWorker(workers, deliver)
	river.AddWorker(workers, deliverypg.NewRedriveWorker(s.pool, nil))
	river.AddWorker(workers, deliverypg.NewSweepWorker(s.pool, metrics, s.logger))
	river.AddWorker(workers, deliverypg.NewPruneWorker(s.pruner))
	cfg := &river.Config{
		Logger:            s.riverLogger(),
		Workers:           workers,
		FetchCooldown:     s.cfg.FetchCooldown,
		FetchPollInterval: s.cfg.FetchPollInterval,
		// Every job must end before it could be mistaken for a stuck one.
		JobTimeout: delivery.JobTimeout(s.cfg.DeliveryTimeout),
		// A job whose process died is retried after this long instead of
		// River's default hour.
		RescueStuckJobsAfter: s.cfg.RescueAfter,
	}
	limitRiverRetention(cfg, s.cfg.Retention)
	if s.cfg.hasRole(roleWorker) {
		cfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault:       {MaxWorkers: 20},
			deliverypg.QueueDelivery: {MaxWorkers: s.cfg.DeliveryWorkers},
		}
		cfg.PeriodicJobs = []*river.PeriodicJob{
			checkoutpg.ExpiryPeriodicJob(s.cfg.ExpiryInterval),
			idempotency.CleanupPeriodicJob(time.Hour),
			deliverypg.SweepPeriodicJob(s.cfg.SweepInterval),
			checkoutpg.ReconcileSweepPeriodicJob(5 * time.Minute),
		}
		if s.cfg.Retention > 0 {
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, deliverypg.PrunePeriodicJob(cmp.Or(s.cfg.PruneInterval, defaultPruneInterval)))
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
	if err := s.startDashboard(ctx); err != nil {
		return err
	}
	if s.cfg.hasRole(roleWorker) {
		// Background work owned by the server: the breaker state writer and
		// the delivery worker's batching loops, which jobs need from the
		// moment River starts.
		bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() { deliverypg.PersistBreakers(bg, s.pool, s.breakers, time.Second, s.logger) })
		wg.Go(func() { s.deliverWorker.Run(bg) })
		s.stopBackground = func() { cancel(); wg.Wait() }
		// River keeps the start context for its lifetime: detach it from the
		// caller's cancellation so shutdown happens through Stop, which drains.
		if err := s.river.Start(context.WithoutCancel(ctx)); err != nil {
			s.stopBackground()
			return fmt.Errorf("start river: %w", err)
		}
		s.riverStarted.Store(true)
	}
	s.serveAdmin()
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
	s.draining.Store(true)
	s.stopDashboard()
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
		// After the workers: a running job may still need the batching loops,
		// and their last breaker changes are flushed too.
		s.stopBackground()
	}
	if err := s.shutdownAdmin(ctx); err != nil {
		errs = append(errs, err)
	}
	s.close()
	return errors.Join(errs...)
}

func (s *Server) close() {
	for _, c := range s.closers {
		c()
	}
	if s.ln != nil {
		_ = s.ln.Close()
	}
	if s.adminLn != nil {
		_ = s.adminLn.Close()
	}
	if s.sidePool != nil {
		s.sidePool.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

// devPublicURL is the public URL in dev when none is set: the listener's
// address, with a wildcard host (0.0.0.0, ::) made the loopback address a
// browser on this machine can open. (Production requires
// HERALD_PUBLIC_URL.)
func devPublicURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return "http://" + addr.String()
	}
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}

// newTestAcquirer signs 3-D Secure references under the keyring's current
// key and accepts those signed under its older ones: a challenge started
// before a rotation still completes.
func newTestAcquirer(ring *seal.Keyring, ledger checkout.Ledger) *checkout.TestAcquirer {
	current, previous := ring.MACKeys(purposeTestAcquirer)
	return checkout.NewTestAcquirer(current, ledger, previous...)
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
