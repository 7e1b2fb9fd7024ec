package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverynet"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/seal"
)

// Config is everything `herald serve` reads from the environment or flags.
// Flags win over the environment; the defaults are in parseServeConfig.
type Config struct {
	// DatabaseURL is the Postgres connection string (DATABASE_URL). Required.
	DatabaseURL string
	// Addr is the HTTP listen address (HERALD_ADDR). Default 127.0.0.1:8080.
	Addr string
	// PublicURL is the base URL customers and merchants reach Herald at
	// (HERALD_PUBLIC_URL), used in hosted page links. Required in
	// production, where it must be https; in dev the default is
	// http://Addr.
	PublicURL string
	// Env is "dev" or "production" (HERALD_ENV). Default production, which
	// requires a server key and an https PublicURL, wants https endpoint
	// URLs, logs JSON and refuses private endpoint addresses; dev must be
	// asked for (make run does).
	Env string
	// Secrets is the server keyring (HERALD_SECRETS: comma-separated
	// kid:base64key entries of 32+ bytes, the first current). Its keys
	// derive the sealing of webhook secrets and idempotent responses, CSRF
	// tokens, 3-D Secure references and the dashboard's digests; values
	// sealed or signed under any of them are accepted, new ones use the
	// first. After validate it also holds Secret, as its last key. Nil
	// when neither is set: in dev, a secret is then generated once and
	// kept in the database so every process shares it; production refuses
	// to start.
	Secrets *seal.Keyring
	// Secret is a single server key (HERALD_SECRET, 32+ characters), as
	// before keyrings: one key whose id is derived from it. Set beside
	// Secrets it is the oldest key of the ring, which is how an
	// installation moves from it to a keyring.
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
	// TrustedProxies are the proxies (CIDRs or addresses) whose
	// X-Forwarded-For is believed for the client's address: the fraud
	// rules, the API's failed-authentication limit, the dashboard's sign-in
	// limit and its audit log (HERALD_TRUSTED_PROXIES, comma-separated).
	// Default none: the client is the connection's address.
	TrustedProxies httpapi.TrustedProxies
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
	// FetchCooldown. It also bounds the kept-alive connections to
	// endpoints, per host and in all: every attempt that can run at once
	// may be to one host.
	DeliveryWorkers int
	// FetchCooldown and FetchPollInterval tune how often River fetches jobs
	// (HERALD_FETCH_COOLDOWN, HERALD_FETCH_POLL_INTERVAL). Defaults 10ms and
	// 50ms, against River's 100ms and 1s, for low delivery latency.
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	// DashboardPassword is the operator dashboard's shared password
	// (HERALD_DASHBOARD_PASSWORD). Default empty, which turns the dashboard
	// off; when set, at least 12 characters in production and 8 in dev.
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

// secretSettings are never echoed in error messages.
var secretSettings = []string{"HERALD_SECRET", "HERALD_SECRETS", "DATABASE_URL", "HERALD_DASHBOARD_PASSWORD"}

// Minimum dashboard password lengths, in characters.
const (
	minDashboardPasswordProduction = 12
	minDashboardPasswordDev        = 8
)

// settings registers flags that mirror environment variables, and converts
// them after parsing, collecting the first error. A flag given on the
// command line wins; otherwise a non-empty variable; otherwise the
// built-in default, which is also what -h shows.
type settings struct {
	fs     *flag.FlagSet
	getenv func(string) string
	values []*setting
	// env maps flag names to their variables, for the usage.
	env map[string]string
}

type setting struct {
	flag, env string
	value     *string
	apply     func(string) error
}

func (s *settings) add(flagName, env, def, usage string, apply func(string) error) {
	st := &setting{flag: flagName, env: env, apply: apply, value: s.fs.String(flagName, def, usage)}
	s.values = append(s.values, st)
	if s.env == nil {
		s.env = map[string]string{}
	}
	s.env[flagName] = env
}

func (s *settings) apply() error {
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, st := range s.values {
		if v := s.getenv(st.env); st.env != "" && v != "" && !given[st.flag] {
			*st.value = v
		}
		if err := st.apply(strings.TrimSpace(*st.value)); err != nil {
			name := st.env
			if name == "" {
				name = "--" + st.flag
			}
			if slices.Contains(secretSettings, st.env) {
				return fmt.Errorf("invalid %s: %w", name, err)
			}
			return fmt.Errorf("invalid %s %q: %w", name, *st.value, err)
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

// parseBool sets *dst from a boolean setting.
func parseBool(dst *bool) func(string) error {
	return func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		*dst = b
		return nil
	}
}

// serveSynopsis heads herald serve -h.
const serveSynopsis = `Usage: herald serve [flags]

Runs Herald: the merchant API and hosted payment pages (role api) and the
River workers that deliver webhooks, expire sessions and reconcile charges
(role worker). HERALD_ENV is production unless dev is asked for; production
needs HERALD_SECRETS (or HERALD_SECRET) and an https HERALD_PUBLIC_URL.`

// parseServeConfig reads flags from args and the environment through
// getenv. Errors are single lines fit for stderr: a usageError (exit 2), or
// a helpRequest for -h.
func parseServeConfig(args []string, getenv func(string) string) (Config, error) {
	var cfg Config
	s := serveSettings(&cfg, getenv)
	fs := s.fs
	if err := parseFlags(fs, args, serveSynopsis, s.env); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := s.apply(); err != nil {
		return cfg, usageError{err}
	}
	if err := cfg.validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// serveSettings registers every herald serve setting, to be applied to
// cfg.
func serveSettings(cfg *Config, getenv func(string) string) *settings {
	s := &settings{fs: newFlagSet("herald serve"), getenv: getenv}
	str := func(dst *string) func(string) error { return func(v string) error { *dst = v; return nil } }
	s.add("database-url", "DATABASE_URL", "", "Postgres connection string", parseDatabaseURL(&cfg.DatabaseURL))
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
	addEnvSetting(s, cfg)
	addSecretSettings(s, cfg)
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
	s.add("migrate", "HERALD_MIGRATE", "true", "apply migrations at start", parseBool(&cfg.Migrate))
	s.add("rate-limit", "HERALD_RATE_LIMIT", "100", "API requests per second per key", parseInt(&cfg.RateLimit, 1))
	s.add("auth-failure-limit", "HERALD_AUTH_FAILURE_LIMIT", strconv.Itoa(httpapi.DefaultAuthFailureLimit), "API requests with a missing or invalid key per client address per minute", parseInt(&cfg.AuthFailureLimit, 1))
	s.add("trusted-proxies", "HERALD_TRUSTED_PROXIES", "", "CIDRs of proxies whose X-Forwarded-For is believed", func(v string) error {
		proxies, err := httpapi.ParseTrustedProxies(v)
		cfg.TrustedProxies = proxies
		return err
	})
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
	s.add("delivery-workers", "HERALD_DELIVERY_WORKERS", "1000", "River MaxWorkers of the delivery queue (and kept-alive connections to endpoints)", parseInt(&cfg.DeliveryWorkers, 1))
	s.add("fetch-cooldown", "HERALD_FETCH_COOLDOWN", "10ms", "River FetchCooldown", parseDuration(&cfg.FetchCooldown, time.Millisecond))
	s.add("fetch-poll-interval", "HERALD_FETCH_POLL_INTERVAL", "50ms", "River FetchPollInterval", parseDuration(&cfg.FetchPollInterval, time.Millisecond))
	s.add("dashboard-password", "HERALD_DASHBOARD_PASSWORD", "", "operator dashboard password (empty: dashboard off)", str(&cfg.DashboardPassword))
	s.add("rescue-after", "HERALD_RESCUE_AFTER", "0s", "retry jobs of dead processes after (0: delivery timeout + 45s)", parseDuration(&cfg.RescueAfter, 0))
	addObservabilitySettings(s, cfg)
	s.add("retention", "HERALD_RETENTION", "720h", "keep finished deliveries and events this long (0: forever)", parseRetention(&cfg.Retention))
	s.add("prune-interval", "HERALD_PRUNE_INTERVAL", defaultPruneInterval.String(), "how often finished rows past the retention are pruned", parseDuration(&cfg.PruneInterval, 100*time.Millisecond))
	return s
}

// errDatabaseURL is every command's answer to a malformed connection
// string. pgx's own message is not repeated: it may quote the string,
// password and all.
var errDatabaseURL = errors.New("want a URL like postgres://user:password@host:5432/herald or key=value settings")

// poolConfig reads a connection string as the pool will, with
// errDatabaseURL for a malformed one.
func poolConfig(databaseURL string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errDatabaseURL
	}
	return cfg, nil
}

// parseDatabaseURL checks the connection string the way the pool will read
// it, so that a malformed one is a configuration error (exit 2) before
// anything connects.
func parseDatabaseURL(dst *string) func(string) error {
	return func(v string) error {
		if v == "" {
			return nil
		}
		if _, err := poolConfig(v); err != nil {
			return err
		}
		*dst = v
		return nil
	}
}

// foldSecrets makes Secret the last key of Secrets (the keyring of Secret
// alone when Secrets is nil).
func (c *Config) foldSecrets() error {
	if c.Secret == "" {
		return nil
	}
	single := seal.SingleKey(c.Secret)
	ring, err := seal.NewKeyring(single)
	if c.Secrets != nil {
		ring, err = c.Secrets.With(single)
	}
	if err != nil {
		return fmt.Errorf("HERALD_SECRET beside HERALD_SECRETS: %w", err)
	}
	c.Secrets = ring
	return nil
}

// addSecretSettings registers HERALD_SECRETS and HERALD_SECRET.
func addSecretSettings(s *settings, cfg *Config) {
	s.add("secrets", "HERALD_SECRETS", "", "server keyring: kid:base64key,… (32+ bytes each, first current)", func(v string) error {
		if v == "" {
			return nil
		}
		ring, err := seal.ParseKeyring(v)
		cfg.Secrets = ring
		return err
	})
	s.add("secret", "HERALD_SECRET", "", "single server key, 32+ characters (HERALD_SECRETS is preferred)", func(v string) error {
		if v != "" && len(v) < seal.MinKeyLen {
			return errors.New("must be at least 32 characters")
		}
		cfg.Secret = v
		return nil
	})
}

// addEnvSetting registers HERALD_ENV.
func addEnvSetting(s *settings, cfg *Config) {
	s.add("env", "HERALD_ENV", envProduction, "production or dev", func(v string) error {
		if v != envDev && v != envProduction {
			return errors.New("want dev or production")
		}
		cfg.Env = v
		return nil
	})
}

// validate checks what involves several settings, and folds Secret into
// Secrets.
func (c *Config) validate() error {
	if err := c.foldSecrets(); err != nil {
		return err
	}
	switch {
	case c.DatabaseURL == "":
		return errors.New("DATABASE_URL is required (or --database-url)")
	case c.Env == envProduction && c.Secrets == nil:
		return errors.New("HERALD_SECRETS is required in production (or HERALD_SECRET): make a key with `herald secrets generate`")
	case c.Env == envProduction && c.PublicURL == "":
		return errors.New("HERALD_PUBLIC_URL is required in production: the https origin customers reach Herald at, like https://pay.example.com")
	case c.Env == envProduction && !strings.HasPrefix(c.PublicURL, "https://"):
		return errors.New("HERALD_PUBLIC_URL must be https in production")
	case c.Env == envProduction && len(c.AllowPrivateEndpoints) > 0:
		return errors.New("HERALD_ALLOW_PRIVATE_ENDPOINTS must be empty in production")
	case c.Env == envProduction && c.DashboardPassword != "" && utf8.RuneCountInString(c.DashboardPassword) < minDashboardPasswordProduction:
		return fmt.Errorf("HERALD_DASHBOARD_PASSWORD must be at least %d characters in production", minDashboardPasswordProduction)
	case c.DashboardPassword != "" && utf8.RuneCountInString(c.DashboardPassword) < minDashboardPasswordDev:
		return fmt.Errorf("HERALD_DASHBOARD_PASSWORD must be at least %d characters (%d in production)", minDashboardPasswordDev, minDashboardPasswordProduction)
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
