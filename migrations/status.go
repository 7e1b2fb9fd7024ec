package migrations

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

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
	applied, err := appliedVersions(ctx, pool)
	if err != nil {
		return s, err
	}
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return s, err
	}
	known := map[int64]bool{}
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return s, fmt.Errorf("migration %s: %w", name, err)
		}
		known[v] = true
		m := Migration{Version: v, Name: name}
		if at, ok := applied[v]; ok {
			m.Applied, m.AppliedAt = true, &at
		}
		s.Herald = append(s.Herald, m)
	}
	for v, at := range applied {
		if !known[v] {
			s.Herald = append(s.Herald, Migration{Version: v, Applied: true, AppliedAt: &at})
		}
	}
	slices.SortFunc(s.Herald, func(a, b Migration) int { return int(a.Version - b.Version) })

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return s, fmt.Errorf("river migrator: %w", err)
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
	slices.SortFunc(s.River, func(a, b Migration) int { return int(a.Version - b.Version) })
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
