// Package migrations holds Herald's SQL schema (goose files embedded in the
// binary) and brings a database up to date, River's tables included.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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

// Up applies every pending migration, Herald's then River's, holding a
// Postgres advisory lock so that concurrent callers wait for each other
// instead of racing. Running it on an up-to-date database is a no-op.
func Up(ctx context.Context, pool *pgxpool.Pool) (Result, error) {
	var res Result
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
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
	return res, nil
}

// Pending says which migrations this binary knows that a database lacks.
type Pending struct {
	// Herald lists the embedded goose versions not applied, in order.
	Herald []int64
	// River says what River's own schema lacks, in River's words; empty
	// when it is current.
	River string
}

// None reports whether the database has every migration this binary knows.
func (p Pending) None() bool { return len(p.Herald) == 0 && p.River == "" }

// String names what is missing, for a readiness answer or a log line.
func (p Pending) String() string {
	var parts []string
	if len(p.Herald) > 0 {
		versions := make([]string, len(p.Herald))
		for i, v := range p.Herald {
			versions[i] = fmt.Sprint(v)
		}
		parts = append(parts, "herald migrations pending: "+strings.Join(versions, ", "))
	}
	if p.River != "" {
		parts = append(parts, "river: "+p.River)
	}
	return strings.Join(parts, "; ")
}

// CheckPending compares the migrations embedded in this binary with those
// applied to the database, reading only: a readiness probe may call it at
// any time. A database ahead of the binary (a newer version has migrated it
// during a rolling upgrade) lacks nothing.
func CheckPending(ctx context.Context, pool *pgxpool.Pool) (Pending, error) {
	var p Pending
	applied, err := appliedVersions(ctx, pool)
	if err != nil {
		return p, err
	}
	embedded, err := embeddedVersions()
	if err != nil {
		return p, err
	}
	for _, v := range embedded {
		if !applied[v] {
			p.Herald = append(p.Herald, v)
		}
	}
	// River's Validate reads its migration table in a transaction and
	// ignores versions newer than it knows.
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return p, fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Validate(ctx, nil)
	if err != nil {
		return p, fmt.Errorf("check river migrations: %w", err)
	}
	if !res.OK {
		p.River = strings.Join(res.Messages, "; ")
	}
	return p, nil
}

// embeddedVersions lists the goose versions of the embedded files, in order.
func embeddedVersions() ([]int64, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	versions := make([]int64, 0, len(names))
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions, nil
}

// appliedVersions reads goose's version table: a version counts as applied
// when its latest row says so (goose's older API records a down migration
// as a new row). No table means nothing is applied.
func appliedVersions(ctx context.Context, pool *pgxpool.Pool) (map[int64]bool, error) {
	applied := map[int64]bool{}
	rows, err := pool.Query(ctx, `SELECT DISTINCT ON (version_id) version_id, is_applied
		FROM goose_db_version ORDER BY version_id, id DESC`)
	if err == nil {
		for rows.Next() {
			var v int64
			var ok bool
			if err := rows.Scan(&v, &ok); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read applied migrations: %w", err)
			}
			applied[v] = ok
		}
		err = rows.Err()
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never migrated
		return applied, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	return applied, nil
}
