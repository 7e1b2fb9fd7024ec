package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverynet"
	"github.com/heraldpay/herald/internal/httpapi"
)

// Config is everything `herald serve` reads from the environment or flags.
// Flags win over the environment; the defaults are in parseServeConfig.
type Config struct {
	// DatabaseURL is the Postgres connection string (DATABASE_URL). Required.
	DatabaseURL string
	// Addr is the HTTP listen address (HERALD_ADDR). Default 127.0.0.1:8080.
	Addr string
	// PublicURL is the base URL customers and merchants reach Herald at
	// (HERALD_PUBLIC_URL), used in hosted page links. Default http://Addr.
	PublicURL string
	// Env is "dev" or "production" (HERALD_ENV). Default dev. Production
	// requires HERALD_SECRET and https endpoint URLs, logs JSON and refuses
	// private endpoint addresses.
	Env string
	// Secret keys card fingerprints, CSRF tokens, 3-D Secure references and
	// the sealing of webhook secrets (HERALD_SECRET, 32+ characters). In dev,
	// when unset, one is generated once and kept in the database so every
	// process shares it.
	Secret string
	// Roles says what this process runs (--roles, HERALD_ROLES): "api" (the
	// merchant API and hosted pages), "worker" (River jobs: deliveries,
	// expiry, redrives), or both. Default api,worker. Every role serves
	// /metrics, /healthz and /readyz (see AdminAddr).
	Roles []string
	// Migrate applies pending migrations at start (HERALD_MIGRATE). Default
	// true; safe when several processes start at once.
	Migrate bool
	// RateLimit is the merchant API's allowance per key per second
	// (HERALD_RATE_LIMIT). Default 100.
	RateLimit int
	// AuthFailureLimit is how many requests with a missing or invalid API
	// key one client address may send to the merchant API per minute before
	// all its requests are answered 429 until the minute ends
	// (HERALD_AUTH_FAILURE_LIMIT). Default 30.
	AuthFailureLimit int
	// ExpiryInterval is how often open sessions past expires_at are expired
	// (HERALD_EXPIRY_INTERVAL). Default 1m.
	ExpiryInterval time.Duration
	// ReconcileAfter is when a charge handed to the acquirer is reconciled
	// by a job, should its payment attempt not have recorded the answer
	// (HERALD_RECONCILE_AFTER). Default 2m: longer than any payment request.
	ReconcileAfter time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests and jobs on
	// SIGTERM (HERALD_SHUTDOWN_TIMEOUT). Default 30s.
	ShutdownTimeout time.Duration

	// AllowPrivateEndpoints lists the CIDRs the SSRF guard lets deliveries
	// reach although they are private or loopback
	// (HERALD_ALLOW_PRIVATE_ENDPOINTS, comma-separated). Default none; must
	// stay empty in production.
	AllowPrivateEndpoints []netip.Prefix
	// DeliveryTimeout bounds one delivery attempt (HERALD_DELIVERY_TIMEOUT).
	// Default 15s.
	DeliveryTimeout time.Duration
	// RetrySchedule is the wait before each retry (HERALD_RETRY_SCHEDULE,
	// comma-separated durations). Default 5s,5m,30m,2h,5h,10h,14h,20h,24h.
	RetrySchedule []time.Duration
	// InflightPerEndpoint caps concurrent attempts to one endpoint per
	// process (HERALD_INFLIGHT_PER_ENDPOINT). Default 10.
	InflightPerEndpoint int
	// InflightPerMerchant caps concurrent attempts to all of one merchant's
	// endpoints per process (HERALD_INFLIGHT_PER_MERCHANT). Default 100.
	InflightPerMerchant int
	// SweepInterval is how often the leader looks for pending deliveries
	// that have lost their job and enqueues them again
	// (HERALD_SWEEP_INTERVAL). Default 1m.
	SweepInterval time.Duration
	// BreakerOpenFor is how long an endpoint's open breaker waits before a
	// probe (HERALD_BREAKER_OPEN_FOR). Default 30s.
	BreakerOpenFor time.Duration
	// DisableEndpointAfter disables an endpoint without a single success
	// for this long (HERALD_DISABLE_ENDPOINT_AFTER). Default 120h.
	DisableEndpointAfter time.Duration
	// DeliveryWorkers is the delivery queue's River MaxWorkers per process
	// (HERALD_DELIVERY_WORKERS). Default 1000: attempts mostly wait on the
	// network, and River's throughput is capped near MaxWorkers per
	// FetchCooldown.
	DeliveryWorkers int
	// FetchCooldown and FetchPollInterval tune how often River fetches jobs
	// (HERALD_FETCH_COOLDOWN, HERALD_FETCH_POLL_INTERVAL). Defaults 10ms and
	// 50ms, against River's 100ms and 1s, for low delivery latency.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// DashboardPassword is the operator dashboard's shared password
	// (HERALD_DASHBOARD_PASSWORD). Default empty, which turns the dashboard
	// off; production requires 12+ characters when set.
	DashboardPassword string
	// RescueAfter is how long a job stays "running" after its process died
	// before River retries it (HERALD_RESCUE_AFTER). Default
	// delivery.DefaultRescueAfter (DeliveryTimeout + 45s), against River's
	// hour; at least delivery.MinRescueAfter (DeliveryTimeout + 15s), since
	// jobs time out at delivery.JobTimeout (DeliveryTimeout + 10s).
	RescueAfter time.Duration
	// StreamPoll, StreamHeartbeat and StreamsPerMerchant tune
	// GET /v1/events/stream (deliveryhttp.StreamConfig). Zero takes its
	// defaults: 200ms, 15s and 5 open streams per merchant per process.
	// Not configurable from the environment; tests shorten them.
	StreamPoll         time.Duration
	StreamHeartbeat    time.Duration
	StreamsPerMerchant int

	// AdminAddr is the operations listener (HERALD_ADMIN_ADDR): /metrics,
	// /healthz, /readyz and, with Pprof, /debug/pprof/. Default empty:
	// the public listener serves the first three. When set, the public
	// listener serves none of them.
	AdminAddr string
	// Pprof serves Go's profiler on the admin listener (HERALD_PPROF).
	// Default false; needs AdminAddr.
	Pprof bool
	// LogLevel is the lowest level logged (HERALD_LOG_LEVEL: debug, info,
	// warn or error). Default info.
	LogLevel slog.Level
	// LogFormat is json or text (HERALD_LOG_FORMAT). Default json in
	// production, text in dev.
	LogFormat string
	// Retention is how long finished deliveries, their attempts and events
	// are kept (HERALD_RETENTION). Default 720h (30 days); 0 keeps them
	// forever; otherwise at least 1h. River keeps its finished jobs no
	// longer than this either.
	Retention time.Duration
	// PruneInterval is how often the leader starts the pruner
	// (HERALD_PRUNE_INTERVAL). Default 10m.
	PruneInterval time.Duration
}

// Environments.
const (
	envDev        = "dev"
	envProduction = "production"
)

// Roles.
const (
	roleAPI    = "api"
	roleWorker = "worker"
)

// settings registers flags whose defaults come from the environment, and
// converts them after parsing, collecting the first error.
type settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	values []*setting
}

type setting struct {
	flag, env string
	value     *string
	apply     func(string) error
}

// secretSettings are never echoed in error messages.
var secretSettings = []string{"HERALD_SECRET", "DATABASE_URL", "HERALD_DASHBOARD_PASSWORD"}

func (s *settings) add(flagName, env, def, usage string, apply func(string) error) {
	if v := s.getenv(env); v != "" {
		def = v
	}
	st := &setting{flag: flagName, env: env, apply: apply, value: s.fs.String(flagName, def, usage+" ("+env+")")}
	s.values = append(s.values, st)
}

func (s *settings) apply() error {
	for _, st := range s.values {
		if err := st.apply(strings.TrimSpace(*st.value)); err != nil {
			if slices.Contains(secretSettings, st.env) {
				return fmt.Errorf("invalid %s: %w", st.env, err)
			}
			return fmt.Errorf("invalid %s %q: %w", st.env, *st.value, err)
		}
	}
	return nil
}

func parseDuration(dst *time.Duration, min time.Duration) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			return fmt.Errorf("want a duration of at least %s, like 30s", min)
		}
		*dst = d
		return nil
	}
}

func parseInt(dst *int, min int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("want an integer of at least %d", min)
		}
		*dst = n
		return nil
	}
}

// parseServeConfig reads the environment through getenv, then flags from
// args. Errors are single lines fit for stderr.
func parseServeConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg Config
	s := &settings{fs: fs, getenv: getenv}
	str := func(dst *string) func(string) error { return func(v string) error { *dst = v; return nil } }
	s.add("database-url", "DATABASE_URL", "", "Postgres connection string", str(&cfg.DatabaseURL))
	s.add("addr", "HERALD_ADDR", "127.0.0.1:8080", "HTTP listen address", func(v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port")
		}
		cfg.Addr = v
		return nil
	})
	s.add("public-url", "HERALD_PUBLIC_URL", "", "public base URL", func(v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return errors.New("want an origin like https://pay.example.com")
		}
		cfg.PublicURL = strings.TrimRight(v, "/")
		return nil
	})
	s.add("env", "HERALD_ENV", envDev, "dev or production", func(v string) error {
		if v != envDev && v != envProduction {
			return errors.New("want dev or production")
		}
		cfg.Env = v
		return nil
	})
	s.add("secret", "HERALD_SECRET", "", "server secret, 32+ characters", func(v string) error {
		if v != "" && len(v) < 32 {
			return errors.New("must be at least 32 characters")
		}
		cfg.Secret = v
		return nil
	})
	s.add("roles", "HERALD_ROLES", "api,worker", "roles to run: api, worker", func(v string) error {
		for _, r := range strings.Split(v, ",") {
			r = strings.TrimSpace(r)
			if r != roleAPI && r != roleWorker {
				return fmt.Errorf("unknown role %q: want api, worker or both", r)
			}
			if !slices.Contains(cfg.Roles, r) {
				cfg.Roles = append(cfg.Roles, r)
			}
		}
		return nil
	})
	s.add("migrate", "HERALD_MIGRATE", "true", "apply migrations at start", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		cfg.Migrate = b
		return nil
	})
	s.add("rate-limit", "HERALD_RATE_LIMIT", "100", "API requests per second per key", parseInt(&cfg.RateLimit, 1))
	s.add("auth-failure-limit", "HERALD_AUTH_FAILURE_LIMIT", strconv.Itoa(httpapi.DefaultAuthFailureLimit), "API requests with a missing or invalid key per client address per minute", parseInt(&cfg.AuthFailureLimit, 1))
	s.add("expiry-interval", "HERALD_EXPIRY_INTERVAL", "1m", "session expiry sweep interval", parseDuration(&cfg.ExpiryInterval, time.Second))
	s.add("reconcile-after", "HERALD_RECONCILE_AFTER", "2m", "reconcile a charge whose answer went unrecorded after", parseDuration(&cfg.ReconcileAfter, time.Second))
	s.add("shutdown-timeout", "HERALD_SHUTDOWN_TIMEOUT", "30s", "drain time on SIGTERM", parseDuration(&cfg.ShutdownTimeout, time.Millisecond))
	s.add("allow-private-endpoints", "HERALD_ALLOW_PRIVATE_ENDPOINTS", "", "CIDRs deliveries may reach although private", func(v string) error {
		prefixes, err := deliverynet.ParseAllowList(v)
		cfg.AllowPrivateEndpoints = prefixes
		return err
	})
	s.add("delivery-timeout", "HERALD_DELIVERY_TIMEOUT", delivery.DefaultAttemptTimeout.String(), "timeout of one delivery attempt", parseDuration(&cfg.DeliveryTimeout, 100*time.Millisecond))
	s.add("retry-schedule", "HERALD_RETRY_SCHEDULE", "", "waits between delivery attempts", func(v string) error {
		if v == "" {
			cfg.RetrySchedule = delivery.DefaultSchedule
			return nil
		}
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				return errors.New("want comma-separated positive durations, like 5s,5m,30m")
			}
			cfg.RetrySchedule = append(cfg.RetrySchedule, d)
		}
		return nil
	})
	s.add("inflight-per-endpoint", "HERALD_INFLIGHT_PER_ENDPOINT", strconv.Itoa(delivery.DefaultInflightPerEndpoint), "concurrent attempts per endpoint per process", parseInt(&cfg.InflightPerEndpoint, 1))
	s.add("inflight-per-merchant", "HERALD_INFLIGHT_PER_MERCHANT", strconv.Itoa(delivery.DefaultInflightPerMerchant), "concurrent attempts per merchant per process", parseInt(&cfg.InflightPerMerchant, 1))
	s.add("sweep-interval", "HERALD_SWEEP_INTERVAL", "1m", "how often orphaned deliveries are looked for", parseDuration(&cfg.SweepInterval, 100*time.Millisecond))
	s.add("breaker-open-for", "HERALD_BREAKER_OPEN_FOR", delivery.DefaultBreakerOpenFor.String(), "open breaker wait before a probe", parseDuration(&cfg.BreakerOpenFor, 10*time.Millisecond))
	s.add("disable-endpoint-after", "HERALD_DISABLE_ENDPOINT_AFTER", delivery.DefaultDisableAfter.String(), "disable endpoints failing this long", parseDuration(&cfg.DisableEndpointAfter, time.Minute))
	s.add("delivery-workers", "HERALD_DELIVERY_WORKERS", "1000", "River MaxWorkers of the delivery queue", parseInt(&cfg.DeliveryWorkers, 1))
	s.add("fetch-cooldown", "HERALD_FETCH_COOLDOWN", "10ms", "River FetchCooldown", parseDuration(&cfg.FetchCooldown, time.Millisecond))
	s.add("fetch-poll-interval", "HERALD_FETCH_POLL_INTERVAL", "50ms", "River FetchPollInterval", parseDuration(&cfg.FetchPollInterval, time.Millisecond))
	s.add("dashboard-password", "HERALD_DASHBOARD_PASSWORD", "", "operator dashboard password (empty: dashboard off)", str(&cfg.DashboardPassword))
	s.add("rescue-after", "HERALD_RESCUE_AFTER", "0s", "retry jobs of dead processes after (0: delivery timeout + 45s)", parseDuration(&cfg.RescueAfter, 0))
	addObservabilitySettings(s, &cfg)
	s.add("retention", "HERALD_RETENTION", "720h", "keep finished deliveries and events this long (0: forever)", parseRetention(&cfg.Retention))
	s.add("prune-interval", "HERALD_PRUNE_INTERVAL", defaultPruneInterval.String(), "how often finished rows past the retention are pruned", parseDuration(&cfg.PruneInterval, 100*time.Millisecond))
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := s.apply(); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

// validate checks what involves several settings.
func (c *Config) validate() error {
	switch {
	case c.DatabaseURL == "":
		return errors.New("DATABASE_URL is required (or --database-url)")
	case c.Env == envProduction && c.Secret == "":
		return errors.New("HERALD_SECRET is required in production (32+ random characters)")
	case c.Env == envProduction && c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "https://"):
		return errors.New("HERALD_PUBLIC_URL must be https in production")
	case c.Env == envProduction && len(c.AllowPrivateEndpoints) > 0:
		return errors.New("HERALD_ALLOW_PRIVATE_ENDPOINTS must be empty in production")
	case c.Env == envProduction && c.DashboardPassword != "" && utf8.RuneCountInString(c.DashboardPassword) < 12:
		return errors.New("HERALD_DASHBOARD_PASSWORD must be at least 12 characters in production")
	}
	if err := c.validateObservability(); err != nil {
		return err
	}
	if c.RescueAfter == 0 {
		c.RescueAfter = delivery.DefaultRescueAfter(c.DeliveryTimeout)
	}
	// A job still running must never look stuck: the rescuer would start it
	// again beside itself.
	if c.RescueAfter < delivery.MinRescueAfter(c.DeliveryTimeout) {
		return errors.New("HERALD_RESCUE_AFTER must exceed HERALD_DELIVERY_TIMEOUT by at least 15s")
	}
	return nil
}

// hasRole reports whether the process runs role.
func (c Config) hasRole(role string) bool { return slices.Contains(c.Roles, role) }
