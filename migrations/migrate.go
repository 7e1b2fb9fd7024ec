// Package migrations holds Herald's SQL schema (goose files embedded in the
// binary) and brings a database up to date, River's tables included.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded goose migration files.
func FS() fs.FS { return files }

// lockKey is the advisory lock that serialises migrations across processes
// (two `herald serve` starting at once). Any constant unlikely to collide
// with River's own advisory locks will do.
const lockKey = 0x6865726c64 // "herld"

// lockPoll is how often a caller waiting for the migration lock tries again.
const lockPoll = 100 * time.Millisecond

// Result says what Up applied.
type Result struct {
	// Herald lists the goose versions applied by this call.
	Herald []int64
	// River lists the River schema versions applied by this call.
	River []int
}

// MinServerMajor is the oldest PostgreSQL Herald runs on: migration 00012
// uses CREATE OR REPLACE TRIGGER (14).
const MinServerMajor = 14

// ServerMajor returns the major version in a server_version such as
// "15.18 (Debian 15.18-0+deb12u1)", or 0.
func ServerMajor(version string) int {
	end := strings.IndexFunc(version, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(version)
	}
	n, _ := strconv.Atoi(version[:end])
	return n
}

// checkServer refuses a server older than MinServerMajor, before any
// migration runs: on an older one, a migration would fail halfway with a
// syntax error, and one that runs outside a transaction would leave part of
// itself applied.
func checkServer(version string) error {
	if ServerMajor(version) < MinServerMajor {
		return fmt.Errorf("herald needs PostgreSQL %d or later; this server is %s", MinServerMajor, version)
	}
	return nil
}

// Up applies every pending migration, River's then Herald's, holding a
// Postgres advisory lock so that concurrent callers wait for each other
// instead of racing. Running it on an up-to-date database is a no-op.
func Up(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	// The server reports its version when the connection starts.
	if err := checkServer(conn.Conn().PgConn().ParameterStatus("server_version")); err != nil {
		return res, err
	}
	// Waiters poll rather than block in pg_advisory_lock: a blocked
	// statement holds a snapshot, and CREATE INDEX CONCURRENTLY waits for
	// every older snapshot in the database — it would wait for the waiters
	// while they wait for it.
	for {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey).Scan(&locked); err != nil {
			return res, fmt.Errorf("take migration lock: %w", err)
		}
		if locked {
			break
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("take migration lock: %w", ctx.Err())
		case <-time.After(lockPoll):
		}
	}
	defer func() {
		// Unlock on a fresh context: ctx may be cancelled by now. If the
		// unlock fails the lock dies with the session anyway, so close it.
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return res, fmt.Errorf("river migrator: %w", err)
	}
	riverRes, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("river migrations: %w", err)
	}
	for _, v := range riverRes.Versions {
		res.River = append(res.River, v.Version)
	}

	// River's schema comes first: Herald's own migrations may refer to
	// river_job (00012 puts a trigger on it).
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files)
	if err != nil {
		return res, fmt.Errorf("goose provider: %w", err)
	}
	applied, err := provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("herald migrations: %w", err)
	}
	for _, r := range applied {
		res.Herald = append(res.Herald, r.Source.Version)
	}
	return res, nil
}
