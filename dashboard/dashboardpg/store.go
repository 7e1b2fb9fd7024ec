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
	"context"
	"errors"
	"fmt"
	"slices"

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

// pageBounds adds to conds the condition that starts page p past its cursor
// on (t.created_at, t.id), t being the listed table's alias, and returns
// them with the ORDER BY that reads the page: newest first, or oldest first
// from a Before cursor (listPage turns such a page round).
func pageBounds(t string, p dashboard.PageRequest, conds []string, a *args) ([]string, string) {
	order := "DESC"
	switch {
	case p.After != nil:
		conds = append(conds, "("+t+".created_at, "+t+".id) < ("+a.add(p.After.At)+", "+a.add(p.After.ID)+")")
	case p.Before != nil:
		conds = append(conds, "("+t+".created_at, "+t+".id) > ("+a.add(p.Before.At)+", "+a.add(p.Before.ID)+")")
		order = "ASC"
	}
	return conds, "ORDER BY " + t + ".created_at " + order + ", " + t + ".id " + order
}

// listPage runs sql, a page query bounded by pageBounds that reads one row
// past p's limit to tell whether there is more, and returns the page newest
// first and whether there is more. what names the list in errors.
func listPage[T any](ctx context.Context, s *Store, what string, p dashboard.PageRequest, sql string, a args,
	scan pgx.RowToFunc[T]) ([]T, bool, error) {
	rows, err := s.pool.Query(ctx, sql, a...)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", what, err)
	}
	list, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, false, fmt.Errorf("list %s: %w", what, err)
	}
	more := len(list) > p.Limit
	if more {
		list = list[:p.Limit]
	}
	if p.Before != nil {
		// Read oldest first from the cursor; shown newest first.
		slices.Reverse(list)
	}
	return list, more, nil
}
