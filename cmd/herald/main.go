// Command herald runs Herald: the merchant API, the hosted payment page and
// the workers behind them.
//
//	herald serve [--roles api,worker] [flags]   run (configuration from env, see -h)
//	herald migrate [up|status]                  apply database migrations, or list them
//	herald merchant create --name N [--logo-url U] [--accent-color #rrggbb] [--json]
//	herald merchant keys list|roll|revoke       a merchant's API keys
//	herald secrets generate|rotate              make a server key; re-seal under the current key
//	herald bench [flags]                        delivery benchmark against River's own ceiling
//	herald listen --api-key K --forward-to URL  forward the merchant's events to a local URL, signed
//	herald trigger EVENT --api-key K            make a real event happen (pays a test session)
//	herald healthcheck [--url URL]              exit 0 when a running Herald's /readyz says ready
//	herald version                              the build
//
// Every command answers -h with its flags, the environment variables they
// mirror and their defaults.
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
  herald migrate [up|status] apply pending database migrations, or list applied and pending ones
  herald merchant create --name NAME [--logo-url URL] [--accent-color #RRGGBB] [--json]
                             create a merchant and print its secret API key
  herald merchant keys list|roll|revoke --merchant ID
                             list, roll (with an overlap) or revoke a merchant's API keys
  herald secrets generate    print a new server key for HERALD_SECRETS
  herald secrets rotate      re-seal everything stored under the current server key
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
  herald version             print the version, revision and Go version
  herald help COMMAND        the same as herald COMMAND -h

Every command answers -h with its flags, the environment variables they mirror
and their defaults. herald serve reads DATABASE_URL (required), HERALD_ENV
(production unless dev is asked for), HERALD_SECRETS (or HERALD_SECRET),
HERALD_PUBLIC_URL and the rest (herald serve -h, README.md).
`

// exitUsage is the exit status for bad configuration or arguments.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// usageError is a mistake in the invocation or the configuration: one line
// on stderr, exit 2.
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
	case "secrets":
		err = runSecrets(ctx, args[1:], getenv, stdout)
	case "bench":
		err = runBench(ctx, args[1:], getenv, stdout, stderr)
	case "listen":
		err = runListen(ctx, args[1:], getenv, stdout, stderr)
	case "trigger":
		err = runTrigger(ctx, args[1:], getenv, stdout)
	case "healthcheck":
		err = runHealthcheck(ctx, args[1:], getenv, stdout)
	case "version":
		err = runVersion(args[1:], stdout)
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" {
			return run(ctx, []string{args[1], "-h"}, getenv, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q (want serve, migrate, merchant, secrets, bench, healthcheck, listen, trigger or version)", args[0])}
	}
	var uerr usageError
	var help helpRequest
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, help.text)
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
		return err
	}
	tuneGC(getenv)
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

// databaseFlag is the --database-url of the commands that only need the
// database: its default is DATABASE_URL, read after parsing so that -h
// never shows it.
func databaseFlag(fs *flag.FlagSet) *string {
	return fs.String("database-url", "", "Postgres connection string")
}

// databaseEnv is what -h says databaseFlag mirrors.
var databaseEnv = map[string]string{"database-url": "DATABASE_URL"}

// openPool connects to databaseURL, or DATABASE_URL when it is empty.
func openPool(ctx context.Context, databaseURL string, getenv func(string) string) (*pgxpool.Pool, error) {
	if databaseURL == "" {
		databaseURL = getenv("DATABASE_URL")
	}
	if databaseURL == "" {
		return nil, usageError{errors.New("DATABASE_URL is required (or --database-url)")}
	}
	cfg, err := poolConfig(databaseURL)
	if err != nil {
		return nil, usageError{fmt.Errorf("invalid DATABASE_URL: %w", err)}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	return pool, nil
}

const migrateSynopsis = `Usage: herald migrate [up|status] [flags]

up (the default) applies every pending migration, River's then Herald's,
under an advisory lock: several processes may run it at once. status lists
Herald's and River's migrations, applied and pending, and changes nothing.
herald serve also migrates at start unless HERALD_MIGRATE=false.`

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	action := "up"
	if len(args) > 0 && (args[0] == "up" || args[0] == "status") {
		action, args = args[0], args[1:]
	}
	fs := newFlagSet("herald migrate")
	databaseURL := databaseFlag(fs)
	if err := parseFlags(fs, args, migrateSynopsis, databaseEnv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (want herald migrate [up|status])", fs.Arg(0))}
	}
	pool, err := openPool(ctx, *databaseURL, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	if action == "status" {
		st, err := migrations.ReadStatus(ctx, pool)
		if err != nil {
			return err
		}
		st.Write(stdout)
		return nil
	}
	res, err := migrations.Up(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "migrations applied: herald %v, river %v\n", res.Herald, res.River)
	return nil
}

const merchantSynopsis = `Usage:
  herald merchant create --name NAME [--logo-url URL] [--accent-color #RRGGBB] [--json]
  herald merchant keys list|roll|revoke --merchant ID [flags]

Run herald merchant create -h or herald merchant keys -h for their flags.`

const merchantCreateSynopsis = `Usage: herald merchant create --name NAME [flags]

Creates a merchant and prints its secret API key, once: Herald keeps only
its digest.`

func runMerchant(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "keys" {
		return runMerchantKeys(ctx, args[1:], getenv, stdout)
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return helpRequest{merchantSynopsis + "\n"}
	}
	if len(args) == 0 || args[0] != "create" {
		return usageError{errors.New("usage: herald merchant create --name NAME [--logo-url URL] [--accent-color #RRGGBB] [--json], or herald merchant keys list|roll|revoke")}
	}
	fs := newFlagSet("herald merchant create")
	var m account.Merchant
	fs.StringVar(&m.Name, "name", "", "merchant name shown on the payment page (required)")
	fs.StringVar(&m.LogoURL, "logo-url", "", "logo shown on the payment page")
	fs.StringVar(&m.AccentColor, "accent-color", "", "brand colour, #rrggbb (default "+account.DefaultAccentColor+")")
	asJSON := fs.Bool("json", false, "print JSON")
	databaseURL := databaseFlag(fs)
	if err := parseFlags(fs, args[1:], merchantCreateSynopsis, databaseEnv); err != nil {
		return err
	}
	if err := m.Validate(); err != nil {
		return usageError{err}
	}
	pool, err := openPool(ctx, *databaseURL, getenv)
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
