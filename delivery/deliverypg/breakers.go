package deliverypg

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/delivery"
)

// PersistBreakers writes this process's breaker transitions to the
// endpoints table every interval, for the API, the dashboard and other
// processes, until ctx ends; then it writes what is left once more. It runs
// off the delivery path: a slow database delays the record, never an
// attempt. Run it in its own goroutine.
func PersistBreakers(ctx context.Context, pool *pgxpool.Pool, breakers *delivery.Breakers, interval time.Duration, logger *slog.Logger) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := flushBreakers(flushCtx, pool, breakers.TakeChanges()); err != nil {
				logger.Warn("persist breaker states", "err", err)
			}
			return
		case <-ticker.C:
			if err := flushBreakers(ctx, pool, breakers.TakeChanges()); err != nil {
				logger.Warn("persist breaker states", "err", err)
			}
		}
	}
}

func flushBreakers(ctx context.Context, pool *pgxpool.Pool, changes []delivery.BreakerChange) error {
	if len(changes) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, c := range changes {
		var nextProbe *time.Time
		if !c.NextProbe.IsZero() {
			nextProbe = &c.NextProbe
		}
		// Several processes report on one endpoint: the latest change wins.
		batch.Queue(`UPDATE webhook_endpoints SET breaker_state = $2, breaker_changed_at = $3, breaker_next_probe_at = $4
			WHERE id = $1 AND (breaker_changed_at IS NULL OR breaker_changed_at <= $3)`, c.EndpointID, c.State, c.At, nextProbe)
	}
	if err := pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("update breaker states: %w", err)
	}
	return nil
}
