// Command herald runs Herald: the merchant API, the hosted payment page and
// the workers behind them.
//
//	herald serve [--roles api,worker] [flags]   run (configuration from env, see --help)
//	herald migrate                              apply database migrations and exit
//	herald merchant create --name N [--logo-url U] [--accent-color #rrggbb] [--json]
//	herald bench [flags]                        delivery benchmark against River's own ceiling
//	herald listen --api-key K --forward-to URL  forward the merchant's events to a local URL, signed
//	herald trigger EVENT --api-key K            make a real event happen (pays a test session)
//	herald healthcheck [--url URL]              exit 0 when a running Herald's /readyz says ready
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/migrations"
)

const usage = `Herald: hosted checkout and authoritative webhook delivery.

Usage:
  herald serve [flags]       run the API, hosted pages and workers
  herald migrate             apply pending database migrations
  herald merchant create --name NAME [--logo-url URL] [--accent-color #RRGGBB] [--json]
                             create a merchant and print its secret API key
  herald bench [flags]       measure delivery throughput and latency (make bench)
  herald listen --api-key sk_… --forward-to URL [--events T1,T2] [--secret whsec_…] [--api-url URL]
                             stream the merchant's events and POST each, signed with a
                             local secret it prints, to URL (like stripe listen)
  herald trigger EVENT --api-key sk_… [--api-url URL]
                             create and pay (or expire) a test session so EVENT really happens:
                             checkout.session.completed, checkout.session.expired,
                             charge.succeeded or charge.failed
                             (--api-url defaults to HERALD_API_URL or http://127.0.0.1:8080)
  herald healthcheck [--url URL]
                             exit 0 when the Herald at HERALD_ADMIN_ADDR (else HERALD_ADDR) is ready

Configuration is read from the environment (flags mirror it, see herald serve -h):
  DATABASE_URL (required), HERALD_ADDR, HERALD_PUBLIC_URL, HERALD_ENV, HERALD_SECRET,
  HERALD_ROLES, HERALD_MIGRATE, HERALD_RATE_LIMIT, HERALD_EXPIRY_INTERVAL,
  HERALD_SHUTDOWN_TIMEOUT, HERALD_DASHBOARD_PASSWORD, HERALD_ADMIN_ADDR, HERALD_PPROF,
  HERALD_LOG_LEVEL, HERALD_LOG_FORMAT and the delivery settings
  (HERALD_ALLOW_PRIVATE_ENDPOINTS, HERALD_DELIVERY_TIMEOUT, HERALD_RETRY_SCHEDULE, …;
  see README.md).
`

// exitUsage is the exit status for bad configuration or arguments.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// usageError is a mistake in the invocation: one line on stderr, exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func (e usageError) Unwrap() error { return e.err }

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], getenv, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], getenv, stdout)
	case "merchant":
		err = runMerchant(ctx, args[1:], getenv, stdout)
	case "bench":
		err = runBench(ctx, args[1:], getenv, stdout, stderr)
	case "listen":
		err = runListen(ctx, args[1:], getenv, stdout, stderr)
	case "trigger":
		err = runTrigger(ctx, args[1:], getenv, stdout)
	case "healthcheck":
		err = runHealthcheck(ctx, args[1:], getenv, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q (want serve, migrate, merchant, bench, healthcheck, listen or trigger)", args[0])}
	}
	var uerr usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage)
		return 0
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return 1
	}
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := parseServeConfig(args, getenv)
	if err != nil {
		return usageError{err}
	}
	logger := newLogger(cfg, stderr)
	srv, err := NewServer(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	logger.Info("herald started", "url", srv.URL(), "admin_url", srv.AdminURL(), "roles", cfg.Roles, "env", cfg.Env, "version", currentBuild().Version)
	serveErr := srv.Wait(ctx)
	logger.Info("herald stopping: draining requests and jobs", "timeout", cfg.ShutdownTimeout)
	drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(drain); err != nil {
		return errors.Join(serveErr, err)
	}
	logger.Info("herald stopped")
	return serveErr
}

// openPool connects to DATABASE_URL (or --database-url).
func openPool(ctx context.Context, databaseURL string) (*pgxpool.Pool, error) {
	if databaseURL == "" {
		return nil, usageError{errors.New("DATABASE_URL is required (or --database-url)")}
	}
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, usageError{fmt.Errorf("invalid DATABASE_URL: %w", err)}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	return pool, nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("herald migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	databaseURL := fs.String("database-url", getenv("DATABASE_URL"), "Postgres connection string")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	pool, err := openPool(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := migrations.Up(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrations applied: herald %v, river %v\n", res.Herald, res.River)
	return nil
}

func runMerchant(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{errors.New("usage: herald merchant create --name NAME [--logo-url URL] [--accent-color #RRGGBB] [--json]")}
	}
	fs := flag.NewFlagSet("herald merchant create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var m account.Merchant
	fs.StringVar(&m.Name, "name", "", "merchant name shown on the payment page (required)")
	fs.StringVar(&m.LogoURL, "logo-url", "", "logo shown on the payment page")
	fs.StringVar(&m.AccentColor, "accent-color", "", "brand colour, #rrggbb")
	asJSON := fs.Bool("json", false, "print JSON")
	databaseURL := fs.String("database-url", getenv("DATABASE_URL"), "Postgres connection string")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	if err := m.Validate(); err != nil {
		return usageError{err}
	}
	pool, err := openPool(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	created, key, err := accountpg.NewStore(pool).Create(ctx, m)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"id": created.ID, "name": created.Name, "secret_key": key})
	}
	fmt.Fprintf(stdout, "merchant %s (%s)\nsecret key: %s\n(shown once; Herald stores only its hash)\n", created.ID, created.Name, key)
	return nil
}
