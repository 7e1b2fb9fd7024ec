// Package pgtest gives each test its own real, fully migrated Postgres
// database.
//
// The first call in a test binary builds a template database (Herald's and
// River's migrations applied once, shared by every package through an
// advisory lock); every test then gets a copy made with CREATE DATABASE …
// TEMPLATE, which takes milliseconds, and drops it when the test ends.
// HERALD_TEST_DATABASE_URL names the server; `make test` starts a throwaway
// cluster and sets it.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/migrations"
)

// EnvURL is the environment variable naming the test server. Its database
// part is only used to connect; tests never touch that database.
const EnvURL = "HERALD_TEST_DATABASE_URL"

var (
	adminOnce sync.Once
	admin     *pgxpool.Pool
	template  string
	adminErr  error
)

// NewPool returns a pool on a new migrated database, closed and dropped
// when t ends.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	return newPool(t, nil)
}

// Open opens a pool on the database at dbURL (one of NewDatabase's, say,
// shared with another process), closed when t ends.
func Open(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	return open(t, dbURL, nil)
}

// newPool opens a pool on a new migrated database, with its connections'
// tracer when tracer is not nil.
func newPool(t testing.TB, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	return open(t, NewDatabase(t), func(cfg *pgxpool.Config) {
		cfg.MaxConns = 20
		if tracer != nil {
			cfg.ConnConfig.Tracer = tracer
		}
	})
}

// open opens a pool on dbURL, its config changed by tune when tune is not
// nil, and closes it when t ends (before a database made for t is
// dropped: cleanups run last-in first-out).
func open(t testing.TB, dbURL string, tune func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("pgtest: parse url: %v", err)
	}
	cfg.ConnConfig.OnNotice = failOnRepair(t)
	if tune != nil {
		tune(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// failOnRepair fails t when Postgres says it repaired a delivery's
// rare_status after an UPDATE that did not set it (migration 00014). The
// repair keeps a hand-written statement right, but it costs a second
// update: Herald's own statements set rare_status themselves
// (deliverypg's setRareStatus), and so must the tests'.
func failOnRepair(t testing.TB) pgconn.NoticeHandler {
	return func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if strings.HasPrefix(n.Message, "herald: rare_status") {
			t.Errorf("pgtest: %s; set rare_status in that UPDATE", n.Message)
		}
	}
}

// NewDatabase creates a new migrated database and returns its URL, for tests
// that hand a database to another process. It is dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// NewEmptyDatabase is NewDatabase without any migration applied.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	adminOnce.Do(func() { admin, template, adminErr = setup() })
	if adminErr != nil {
		t.Fatalf("pgtest: %v", adminErr)
	}
	ctx := context.Background()
	name := "herald_test_" + strings.ToLower(id.Random(16))
	sql := "CREATE DATABASE " + name
	if migrated {
		sql += " TEMPLATE " + template
	}
	if _, err := admin.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		// FORCE ends sessions a test left behind (a killed subprocess).
		if _, err := admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(os.Getenv(EnvURL), name)
}

// AdminURL returns the server URL tests were given, for tests that need a
// connection outside their own database (pg_dump, for example).
func AdminURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		t.Fatalf("pgtest: %s is not set; run `make test`, which starts a throwaway PostgreSQL", EnvURL)
	}
	return u
}

func setup() (*pgxpool.Pool, string, error) {
	adminURL := os.Getenv(EnvURL)
	if adminURL == "" {
		return nil, "", fmt.Errorf("%s is not set; run `make test`, which starts a throwaway PostgreSQL", EnvURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", EnvURL, err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("connect: %w", err)
	}
	name, err := templateName()
	if err != nil {
		return nil, "", err
	}
	if err := ensureTemplate(ctx, pool, adminURL, name); err != nil {
		pool.Close()
		return nil, "", err
	}
	return pool, name, nil
}

// templateName changes whenever a migration file or the River version
// changes, so a long-lived test server never serves a stale schema.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", path, b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if strings.HasPrefix(dep.Path, "github.com/riverqueue/river") {
				fmt.Fprintf(h, "%s@%s\x00", dep.Path, dep.Version)
			}
		}
	}
	return "herald_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func ensureTemplate(ctx context.Context, pool *pgxpool.Pool, adminURL, name string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer conn.Release()
	// Test binaries of several packages run at once; one builds, the others wait.
	const lockKey = 0x7067746d706c // "pgtmpl"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck // dies with the session anyway

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return nil
	}
	// Build under another name and rename when complete, so a crash halfway
	// never leaves a half-migrated template behind.
	building := name + "_build"
	for _, sql := range []string{
		"DROP DATABASE IF EXISTS " + building + " WITH (FORCE)",
		"CREATE DATABASE " + building,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	tmplPool, err := pgxpool.New(ctx, withDatabase(adminURL, building))
	if err != nil {
		return fmt.Errorf("connect to template: %w", err)
	}
	_, err = migrations.Up(ctx, tmplPool)
	tmplPool.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+name); err != nil {
		return fmt.Errorf("rename template: %w", err)
	}
	return nil
}

// withDatabase returns rawURL with its database name replaced.
func withDatabase(rawURL, db string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		// Fall back to pgx's key=value form, which also accepts dbname.
		return rawURL + " dbname=" + db
	}
	u.Path = "/" + db
	return u.String()
}
