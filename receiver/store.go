package receiver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store runs a function at most once per key.
type Store interface {
	// Once runs fn unless key was already done, and reports whether fn ran.
	// Calls with the same key at the same time run fn at most once: the
	// others wait and then see it done. If fn returns an error nothing is
	// recorded and a later call runs fn again.
	Once(ctx context.Context, key string, fn func(ctx context.Context) error) (ran bool, err error)
}

// PostgresStore records done keys in a table, inside the transaction in
// which fn runs: use TxFromContext(ctx) in fn to write your own changes in
// that same transaction, and they commit together with the key or not at
// all.
type PostgresStore struct {
	pool  *pgxpool.Pool
	table string
}

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// NewPostgresStore returns a store keeping its keys in table (optionally
// schema-qualified, e.g. "shop.webhook_once"). Call CreateTable once, or
// create it with your migrations.
func NewPostgresStore(pool *pgxpool.Pool, table string) (*PostgresStore, error) {
	if !tableName.MatchString(table) {
		return nil, fmt.Errorf("receiver: invalid table name %q", table)
	}
	return &PostgresStore{pool: pool, table: table}, nil
}

// CreateTable creates the store's table if it does not exist, with the
// index on done_at that Prune walks (also added to a table created by an
// earlier version). If you create the table with your own migrations, add
// that index too.
func (s *PostgresStore) CreateTable(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.table+` (
		key     text PRIMARY KEY,
		done_at timestamptz NOT NULL DEFAULT now())`)
	if err != nil {
		return fmt.Errorf("receiver: create %s: %w", s.table, err)
	}
	// The index lives in the table's schema; its name is unqualified.
	name := s.table[strings.LastIndex(s.table, ".")+1:] + "_done_at"
	if _, err := s.pool.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+name+` ON `+s.table+` (done_at)`); err != nil {
		return fmt.Errorf("receiver: index %s: %w", s.table, err)
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
func (s *PostgresStore) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	if olderThan <= 0 {
		return 0, errors.New("receiver: Prune needs a positive age")
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE key IN (
			SELECT key FROM `+s.table+` WHERE done_at < now() - $1::interval
			ORDER BY done_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, olderThan, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("receiver: prune %s: %w", s.table, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

type txKey struct{}

// TxFromContext returns the transaction a PostgresStore runs fn in.
func TxFromContext(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(pgx.Tx)
	return tx, ok
}

// Once implements Store. Inside another Once (the webhook's, say), it runs
// in a savepoint of that transaction, so the inner key commits with the
// outer work.
func (s *PostgresStore) Once(ctx context.Context, key string, fn func(ctx context.Context) error) (bool, error) {
	var tx pgx.Tx
	var err error
	if outer, ok := TxFromContext(ctx); ok {
		tx, err = outer.Begin(ctx)
	} else {
		tx, err = s.pool.Begin(ctx)
	}
	if err != nil {
		return false, fmt.Errorf("receiver: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	// A concurrent Once for the same key blocks here on the primary key
	// until the first commits (then it conflicts: done) or rolls back (then
	// it inserts and runs fn itself).
	tag, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (key) VALUES ($1) ON CONFLICT (key) DO NOTHING`, key)
	if err != nil {
		return false, fmt.Errorf("receiver: record %s: %w", key, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if err := fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("receiver: commit %s: %w", key, err)
	}
	return true, nil
}

// MemoryStore is a Store for tests and single-process demos: keys live in
// memory and are lost on restart.
type MemoryStore struct {
	mu    sync.Mutex
	done  map[string]time.Time
	locks map[string]*sync.Mutex
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{done: map[string]time.Time{}, locks: map[string]*sync.Mutex{}}
}

// Once implements Store.
func (s *MemoryStore) Once(ctx context.Context, key string, fn func(ctx context.Context) error) (bool, error) {
	lock := s.lock(key)
	lock.Lock()
	defer lock.Unlock()
	if s.Done(key) {
		return false, nil
	}
	if err := fn(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	s.done[key] = time.Now()
	s.mu.Unlock()
	return true, nil
}

// Done reports whether key was done.
func (s *MemoryStore) Done(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.done[key]
	return ok
}

func (s *MemoryStore) lock(key string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[key]
	if !ok {
		l = &sync.Mutex{}
		s.locks[key] = l
	}
	return l
}
