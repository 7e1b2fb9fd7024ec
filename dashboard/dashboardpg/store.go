// Package dashboardpg is the Postgres side of the operator dashboard: its
// read model (health figures, deliveries, endpoints and redrives across
// merchants), operator sessions and the audit log.
//
// Its queries are shaped for the indexes of migrations/00003_dashboard.sql
// and the delivery engine's own: every list is a keyset page read from an
// index in order, the overview reads its figures from covering indexes, and
// nothing scans a delivery table from end to end (the tests check the plans).
//
// It reads other packages' tables but owns none of their rules: merchants
// (accountpg's) are JOINed for their names only, and statuses are the typed
// constants of package delivery, passed as arguments, except where a partial
// index's predicate needs the literal (said where it happens).
package dashboardpg

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/dashboard"
)

// Store implements dashboard.ReadModel, dashboard.SessionStore and
// dashboard.AuditLog.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ dashboard.ReadModel    = (*Store)(nil)
	_ dashboard.SessionStore = (*Store)(nil)
	_ dashboard.AuditLog     = (*Store)(nil)
)

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// notFound maps "no rows" to dashboard.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return dashboard.ErrNotFound
	}
	return fmt.Errorf("%s: %w", what, err)
}

// args collects the parameters of a query built piece by piece.
type args []any

// add appends v and returns its placeholder.
func (a *args) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}
