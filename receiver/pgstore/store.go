package pgstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/receiver"
)

// Store is a receiver.Store that records done keys in a table, inside the
// transaction in which fn runs: use TxFromContext(ctx) in fn to write your
// own changes in that same transaction, and they commit together with the
// key or not at all. It is safe for concurrent use, also from several
// processes sharing the database.
type Store struct {
	pool  *pgxpool.Pool
	table string
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

var _ receiver.Store = (*Store)(nil)

// New returns a store keeping its keys in table (optionally
// schema-qualified, e.g. "shop.webhook_once"). Call CreateTable once, or
// create the table with your migrations:
//
//	CREATE TABLE shop.webhook_once (key text PRIMARY KEY, done_at timestamptz NOT NULL DEFAULT now());
//	CREATE INDEX webhook_once_done_at ON shop.webhook_once (done_at);
func New(pool *pgxpool.Pool, table string) (*Store, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("pgstore: invalid table name %q", table)
	}
	return &Store{pool: pool, table: table}, nil
}

// CreateTable creates the store's table if it does not exist, with the
// index on done_at that Prune walks (also added to a table created by an
// earlier version). If you create the table with your own migrations, add
// that index too:
//
//	CREATE INDEX webhook_once_done_at ON shop.webhook_once (done_at);
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
		key     text PRIMARY KEY,
		done_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("pgstore: create %s: %w", s.table, err)
	}
	// The index lives in the table's schema; its name is unqualified.
	name := s.table[strings.LastIndex(s.table, ".")+1:] + "_done_at"
	if _, err := s.pool.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+name+` ON `+s.table+` (done_at)`); err != nil {
		return fmt.Errorf("pgstore: index %s: %w", s.table, err)
	}
	return nil
}

// pruneBatch bounds the keys one statement of Prune deletes, so that
// pruning a large table never holds many locks or a long transaction.
const pruneBatch = 1000

// Prune deletes the keys done more than olderThan ago (by the database's
// clock), a thousand per statement, and returns how many it deleted.
//
// A pruned key no longer stops a duplicate: keep keys for as long as the
// same event can arrive again. Herald retries a delivery for about three
// days, and a redrive can send an event again for as long as Herald keeps
// it (HERALD_RETENTION, 30 days by default), so prune with an age longer
// than that, say 45 days, from a daily job. The success page's
// "session:" keys go by the same rule; fulfilment that also checks the
// order's own state (paid already?) is safe whatever the age.
func (s *Store) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, errors.New("pgstore: Prune needs a positive age")
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE key IN (
			SELECT key FROM `+s.table+` WHERE done_at < now() - $1::interval
			ORDER BY done_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("pgstore: prune %s: %w", s.table, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

type txKey struct{}

// TxFromContext returns the transaction a Store runs fn in, for fn to
// write its own changes in.
func TxFromContext(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// Once implements receiver.Store. Inside another Once (the webhook's, say),
// it runs in a savepoint of that transaction, so the inner key commits with
// the outer work.
func (s *Store) Once(ctx context.Context, key string, fn func(ctx context.Context) error) (bool, error) {
	var tx pgx.Tx
	var err error
	if outer, ok := TxFromContext(ctx); ok {
		tx, err = outer.Begin(ctx)
	} else {
		tx, err = s.pool.Begin(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("pgstore: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	// A concurrent Once for the same key blocks here on the primary key
	// until the first commits (then it conflicts: done) or rolls back (then
	// it inserts and runs fn itself).
	tag, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`, key)
	if err != nil {
		return false, fmt.Errorf("pgstore: record %s: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("pgstore: commit %s: %w", key, err)
	}
	return true, nil
}
