package migrations

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

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
	herald, err := heraldMigrations(ctx, pool)
	if err != nil {
		return p, err
	}
	for _, m := range herald {
		if !m.Applied {
			p.Herald = append(p.Herald, m.Version)
		}
	}
	// River's Validate reads its migration table in a transaction and
	// ignores versions newer than it knows.
	migrator, err := quietRiverMigrator(pool)
	if err != nil {
		return p, err
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

// heraldMigrations lists Herald's migrations in order: the files embedded
// in this binary, applied or not, and those applied to the database that
// the binary does not know.
func heraldMigrations(ctx context.Context, pool *pgxpool.Pool) ([]Migration, error) {
	applied, err := appliedVersions(ctx, pool)
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	known := map[int64]bool{}
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		known[v] = true
		m := Migration{Version: v, Name: name}
		if at, ok := applied[v]; ok {
			m.Applied, m.AppliedAt = true, &at
		}
		ms = append(ms, m)
	}
	for v, at := range applied {
		if !known[v] {
			ms = append(ms, Migration{Version: v, Applied: true, AppliedAt: &at})
		}
	}
	slices.SortFunc(ms, byVersion)
	return ms, nil
}

func byVersion(a, b Migration) int { return cmp.Compare(a.Version, b.Version) }

// quietRiverMigrator reads River's migrations for the read-only checks,
// which have nothing to log.
func quietRiverMigrator(pool *pgxpool.Pool) (*rivermigrate.Migrator[pgx.Tx], error) {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	return migrator, nil
}

// appliedVersions reads goose's version table: the versions applied, with
// when. A version counts as applied when its latest row says so (goose's
// older API records a down migration as a new row); version 0 is goose's
// own marker. No table means nothing is applied.
func appliedVersions(ctx context.Context, pool *pgxpool.Pool) (map[int64]time.Time, error) {
	applied := map[int64]time.Time{}
	rows, err := pool.Query(ctx, `SELECT DISTINCT ON (version_id) version_id, is_applied, tstamp
		FROM goose_db_version WHERE version_id > 0 ORDER BY version_id, id DESC`)
	if err == nil {
		for rows.Next() {
			var v int64
			var ok bool
			var at time.Time
			if err := rows.Scan(&v, &ok, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read applied migrations: %w", err)
			}
			if ok {
				applied[v] = at
			}
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

// Migration is one migration, as this binary and a database know it.
type Migration struct {
	Version int64
	// Name is the file name of Herald's migrations, River's own name of
	// its; empty for a version the database has and this binary does not
	// know (a newer binary applied it).
	Name    string
	Applied bool
	// AppliedAt is when goose applied one of Herald's; River does not say.
	AppliedAt *time.Time
}

// Status lists Herald's and River's migrations, in order, each applied or
// pending.
type Status struct {
	Herald []Migration
	River  []Migration
}

// Pending counts the migrations not applied: Herald's and River's.
func (s Status) Pending() (herald, river int) {
	count := func(ms []Migration) (n int) {
		for _, m := range ms {
			if !m.Applied {
				n++
			}
		}
		return n
	}
	return count(s.Herald), count(s.River)
}

// ReadStatus compares the migrations embedded in this binary, Herald's and
// River's, with those applied to the database. It only reads.
func ReadStatus(ctx context.Context, pool *pgxpool.Pool) (Status, error) {
	var s Status
	var err error
	if s.Herald, err = heraldMigrations(ctx, pool); err != nil {
		return s, err
	}
	migrator, err := quietRiverMigrator(pool)
	if err != nil {
		return s, err
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return s, fmt.Errorf("read river migrations: %w", err)
	}
	riverApplied := map[int]bool{}
	for _, m := range existing {
		riverApplied[m.Version] = true
	}
	for _, m := range migrator.AllVersions() {
		s.River = append(s.River, Migration{Version: int64(m.Version), Name: m.Name, Applied: riverApplied[m.Version]})
		delete(riverApplied, m.Version)
	}
	for v := range riverApplied {
		s.River = append(s.River, Migration{Version: int64(v), Applied: true})
	}
	slices.SortFunc(s.River, byVersion)
	return s, nil
}

// Write prints s as herald migrate status does: one line per migration,
// then what is pending.
func (s Status) Write(w io.Writer) {
	section := func(title string, ms []Migration) {
		fmt.Fprintf(w, "%s\n", title)
		for _, m := range ms {
			state := "pending"
			switch {
			case m.AppliedAt != nil:
				state = "applied " + m.AppliedAt.UTC().Format("2006-01-02 15:04:05 UTC")
			case m.Applied:
				state = "applied"
			}
			name := m.Name
			if name == "" {
				name = "(unknown to this binary: applied by a newer Herald)"
			}
			fmt.Fprintf(w, "  %4d  %-40s %s\n", m.Version, name, state)
		}
	}
	section("Herald migrations:", s.Herald)
	section("River migrations:", s.River)
	herald, river := s.Pending()
	if herald+river == 0 {
		fmt.Fprintln(w, "Up to date: nothing pending.")
		return
	}
	var parts []string
	if herald > 0 {
		parts = append(parts, fmt.Sprintf("%d of Herald's", herald))
	}
	if river > 0 {
		parts = append(parts, fmt.Sprintf("%d of River's", river))
	}
	fmt.Fprintf(w, "Pending: %s (herald migrate applies them).\n", strings.Join(parts, " and "))
}
