// Package deliverypg is the Postgres side of webhook delivery: the event log
// and its fan-out to endpoints (in the caller's transaction), endpoints and
// their sealed secrets, deliveries and their attempt log, redrives, and the
// River workers that deliver.
package deliverypg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/seal"

	"github.com/heraldpay/herald/internal/validation"
)

// JobInserter enqueues River jobs in the caller's transaction. A
// *river.Client[pgx.Tx] satisfies it; Herald uses an insert-only client so
// that enqueueing does not depend on the workers being wired.
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Config holds a Service's collaborators.
type Config struct {
	// Box seals signing secrets. Required.
	Box *seal.Box
	// Inserter enqueues delivery and redrive jobs. Required.
	Inserter JobInserter
	// RequireHTTPS refuses http endpoint URLs (production).
	RequireHTTPS bool
	// Metrics counts endpoints disabled through the API; nil counts nothing.
	Metrics *Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Service implements delivery's EndpointService, EventService and
// DeliveryService, and publishes events for checkout.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
	ops  opsLog
}

var (
	_ delivery.EndpointService = (*Service)(nil)
	_ delivery.EventService    = (*Service)(nil)
	_ delivery.DeliveryService = (*Service)(nil)
)

// NewService returns a Service. It panics without Box or Inserter: a wiring
// bug.
func NewService(pool *pgxpool.Pool, cfg Config) *Service {
	if cfg.Box == nil || cfg.Inserter == nil {
		panic("deliverypg: Box and Inserter are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{pool: pool, cfg: cfg, ops: opsLog{cfg.Logger, cfg.Metrics}}
}

// notFound maps "no rows" to delivery.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.ErrNotFound
	}
	return fmt.Errorf("%s: %w", what, err)
}

// cursorError reports a cursor, the value id of param, that is not one of
// the merchant's objects.
func cursorError(param, id string) error {
	return &validation.Error{Param: param, Code: validation.CodeResourceMissing,
		Message: fmt.Sprintf("no such object: %q", id)}
}

// inTx runs fn in a transaction with opts and returns what it made, or
// only the error when fn or the commit failed.
func inTx[T any](ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) (T, error)) (T, error) {
	var out T
	err := pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// cursorCreated reads the created time of a starting_after cursor, id,
// with createdSQL (given the id and merchantID), once: the cursor must be
// one of the merchant's objects, and its position bounds the page.
func (s *Service) cursorCreated(ctx context.Context, createdSQL, id, merchantID string) (time.Time, error) {
	var created time.Time
	err := s.pool.QueryRow(ctx, createdSQL, id, merchantID).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		return created, cursorError("starting_after", id)
	}
	if err != nil {
		return created, fmt.Errorf("look up cursor: %w", err)
	}
	return created, nil
}

// collectPage reads a list fetched with limit+1 rows, each read by scan,
// trims it to limit and reports whether more follow.
func collectPage[T any](rows pgx.Rows, limit int, scan func(pgx.Row) (T, error)) ([]T, bool, error) {
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, false, err
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}
