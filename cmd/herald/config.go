package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is everything `herald serve` reads from the environment or flags.
// Flags win over the environment.
type Config struct {
	// DatabaseURL is the Postgres connection string (DATABASE_URL). Required.
	DatabaseURL string
	// Addr is the HTTP listen address (HERALD_ADDR). Default 127.0.0.1:8080.
	Addr string
	// PublicURL is the base URL customers and merchants reach Herald at
	// (HERALD_PUBLIC_URL), used in hosted page links. Default http://Addr.
	PublicURL string
	// Env is "dev" or "production" (HERALD_ENV). Default dev. Production
	// requires HERALD_SECRET, logs JSON and marks cookies Secure.
	Env string
	// Secret keys card fingerprints, CSRF tokens and 3-D Secure references
	// (HERALD_SECRET, at least 32 characters). In dev, when unset, one is
	// generated once and kept in the database so every process shares it.
	Secret string
	// Roles says what this process runs (--roles, HERALD_ROLES): "api" (the
	// merchant API and hosted pages), "worker" (River jobs), or both.
	// Default api,worker. Every role serves /metrics and /healthz.
	Roles []string
	// Migrate applies pending migrations at start (HERALD_MIGRATE). Default
	// true; safe when several processes start at once.
	Migrate bool
	// RateLimit is the merchant API's allowance per key per second
	// (HERALD_RATE_LIMIT). Default 100.
	RateLimit int
	// ExpiryInterval is how often open sessions past expires_at are expired
	// (HERALD_EXPIRY_INTERVAL). Default 1m.
	ExpiryInterval time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests and jobs on
	// SIGTERM (HERALD_SHUTDOWN_TIMEOUT). Default 30s.
	ShutdownTimeout time.Duration
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

// parseServeConfig reads the environment through getenv, then flags from
// args. Errors are single lines fit for stderr.
func parseServeConfig(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var (
		cfg                                      Config
		roles, migrate, rateLimit, expiry, drain string
	)
	fs.StringVar(&cfg.DatabaseURL, "database-url", getenv("DATABASE_URL"), "Postgres connection string (DATABASE_URL)")
	fs.StringVar(&cfg.Addr, "addr", envOr("HERALD_ADDR", "127.0.0.1:8080"), "HTTP listen address (HERALD_ADDR)")
	fs.StringVar(&cfg.PublicURL, "public-url", getenv("HERALD_PUBLIC_URL"), "public base URL (HERALD_PUBLIC_URL)")
	fs.StringVar(&cfg.Env, "env", envOr("HERALD_ENV", envDev), "dev or production (HERALD_ENV)")
	fs.StringVar(&cfg.Secret, "secret", getenv("HERALD_SECRET"), "server secret, 32+ characters (HERALD_SECRET)")
	fs.StringVar(&roles, "roles", envOr("HERALD_ROLES", "api,worker"), "roles to run: api, worker (HERALD_ROLES)")
	fs.StringVar(&migrate, "migrate", envOr("HERALD_MIGRATE", "true"), "apply migrations at start (HERALD_MIGRATE)")
	fs.StringVar(&rateLimit, "rate-limit", envOr("HERALD_RATE_LIMIT", "100"), "API requests per second per key (HERALD_RATE_LIMIT)")
	fs.StringVar(&expiry, "expiry-interval", envOr("HERALD_EXPIRY_INTERVAL", "1m"), "session expiry sweep interval (HERALD_EXPIRY_INTERVAL)")
	fs.StringVar(&drain, "shutdown-timeout", envOr("HERALD_SHUTDOWN_TIMEOUT", "30s"), "drain time on SIGTERM (HERALD_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	if cfg.DatabaseURL == "" {
		return cfg, errors.New("DATABASE_URL is required (or --database-url)")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("invalid HERALD_ADDR %q: want host:port", cfg.Addr)
	}
	if cfg.Env != envDev && cfg.Env != envProduction {
		return cfg, fmt.Errorf("invalid HERALD_ENV %q: want dev or production", cfg.Env)
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cfg, fmt.Errorf("invalid HERALD_PUBLIC_URL %q: want an origin like https://pay.example.com", cfg.PublicURL)
		}
		if cfg.Env == envProduction && u.Scheme != "https" {
			return cfg, errors.New("HERALD_PUBLIC_URL must be https in production")
		}
		cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	}
	switch {
	case cfg.Secret != "" && len(cfg.Secret) < 32:
		return cfg, errors.New("HERALD_SECRET must be at least 32 characters")
	case cfg.Secret == "" && cfg.Env == envProduction:
		return cfg, errors.New("HERALD_SECRET is required in production (32+ random characters)")
	}
	for _, r := range strings.Split(roles, ",") {
		r = strings.TrimSpace(r)
		if r != roleAPI && r != roleWorker {
			return cfg, fmt.Errorf("invalid role %q in --roles: want api, worker or both", r)
		}
		if !slices.Contains(cfg.Roles, r) {
			cfg.Roles = append(cfg.Roles, r)
		}
	}
	var err error
	if cfg.Migrate, err = strconv.ParseBool(migrate); err != nil {
		return cfg, fmt.Errorf("invalid HERALD_MIGRATE %q: want true or false", migrate)
	}
	if cfg.RateLimit, err = strconv.Atoi(rateLimit); err != nil || cfg.RateLimit < 1 {
		return cfg, fmt.Errorf("invalid HERALD_RATE_LIMIT %q: want a positive integer", rateLimit)
	}
	if cfg.ExpiryInterval, err = time.ParseDuration(expiry); err != nil || cfg.ExpiryInterval < time.Second {
		return cfg, fmt.Errorf("invalid HERALD_EXPIRY_INTERVAL %q: want a duration of at least 1s, like 1m", expiry)
	}
	if cfg.ShutdownTimeout, err = time.ParseDuration(drain); err != nil || cfg.ShutdownTimeout <= 0 {
		return cfg, fmt.Errorf("invalid HERALD_SHUTDOWN_TIMEOUT %q: want a duration like 30s", drain)
	}
	return cfg, nil
}

// hasRole reports whether the process runs role.
func (c Config) hasRole(role string) bool { return slices.Contains(c.Roles, role) }
