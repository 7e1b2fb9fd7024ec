package deliverypg

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"

	"github.com/heraldpay/herald/internal/validation"
)

const endpointColumns = `id, merchant_id, url, description, enabled_events, status, disabled_reason, paused,
	created_at, last_success_at, failing_since, breaker_state`

func scanEndpoint(row pgx.Row) (*delivery.Endpoint, error) {
	var e delivery.Endpoint
	err := row.Scan(&e.ID, &e.MerchantID, &e.URL, &e.Description, &e.EnabledEvents, &e.Status, &e.DisabledReason,
		&e.Paused, &e.Created, &e.LastSuccessAt, &e.FailingSince, &e.BreakerState)
	if err != nil {
		return nil, notFound(err, "scan endpoint")
	}
	return &e, nil
}

// CreateEndpoint implements delivery.EndpointService.
func (s *Service) CreateEndpoint(ctx context.Context, merchantID string, p delivery.EndpointParams) (*delivery.Endpoint, error) {
	if err := delivery.ValidateEndpoint(p, true, s.cfg.RequireHTTPS); err != nil {
		return nil, err
	}
	e := &delivery.Endpoint{
		ID: id.New("we"), MerchantID: merchantID, URL: *p.URL, EnabledEvents: delivery.NormalizeEvents(p.EnabledEvents),
		Status: delivery.EndpointEnabled, Secret: webhook.NewSecret(), BreakerState: delivery.BreakerClosed,
	}
	if p.Description != nil {
		e.Description = *p.Description
	}
	if p.Paused != nil {
		e.Paused = *p.Paused
	}
	if p.Status != nil && *p.Status == string(delivery.EndpointDisabled) {
		e.Status, e.DisabledReason = delivery.EndpointDisabled, delivery.DisabledReasonManual
	}
	err := s.pool.QueryRow(ctx, `
		INSERT INTO webhook_endpoints (id, merchant_id, url, description, enabled_events, status, disabled_reason, paused, secret_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING created_at`,
		e.ID, e.MerchantID, e.URL, e.Description, e.EnabledEvents, e.Status, e.DisabledReason, e.Paused,
		s.cfg.Box.Seal(e.Secret, e.ID)).Scan(&e.Created)
	if err != nil {
		return nil, fmt.Errorf("insert endpoint: %w", err)
	}
	return e, nil
}

// FindEndpoint implements delivery.EndpointService.
func (s *Service) FindEndpoint(ctx context.Context, merchantID, endpointID string) (*delivery.Endpoint, error) {
	return scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL`, endpointID, merchantID))
}

// ListEndpoints implements delivery.EndpointService.
func (s *Service) ListEndpoints(ctx context.Context, merchantID string, limit int, startingAfter string) ([]*delivery.Endpoint, bool, error) {
	args := []any{merchantID, limit + 1}
	cursor := ""
	if startingAfter != "" {
		created, err := s.cursorCreated(ctx, `SELECT created_at FROM webhook_endpoints
			WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL`, startingAfter, merchantID)
		if err != nil {
			return nil, false, err
		}
		args = append(args, created, startingAfter)
		cursor = `AND (created_at, id) < ($3::timestamptz, $4::text) `
	}
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE merchant_id = $1 AND deleted_at IS NULL `+cursor+`ORDER BY created_at DESC, id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list endpoints: %w", err)
	}
	return collectPage(rows, limit, scanEndpoint)
}

// lockEndpoint reads an endpoint FOR UPDATE inside tx.
func lockEndpoint(ctx context.Context, tx pgx.Tx, merchantID, endpointID string) (*delivery.Endpoint, error) {
	return scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL FOR UPDATE`, endpointID, merchantID))
}

// UpdateEndpoint implements delivery.EndpointService. Disabling an
// endpoint raises webhook_endpoint.disabled to the merchant's other
// endpoints, as an automatic disable does.
func (s *Service) UpdateEndpoint(ctx context.Context, merchantID, endpointID string, p delivery.EndpointParams) (*delivery.Endpoint, error) {
	if err := delivery.ValidateEndpoint(p, false, s.cfg.RequireHTTPS); err != nil {
		return nil, err
	}
	var (
		e        *delivery.Endpoint
		disabled bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if e, err = lockEndpoint(ctx, tx, merchantID, endpointID); err != nil {
			return err
		}
		now := s.cfg.Now()
		wasPaused := e.Paused
		if p.URL != nil {
			e.URL = *p.URL
		}
		if p.EnabledEvents != nil {
			e.EnabledEvents = delivery.NormalizeEvents(p.EnabledEvents)
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if p.Paused != nil {
			e.Paused = *p.Paused
		}
		resetHealth, disabling := false, false
		if p.Status != nil && delivery.EndpointStatus(*p.Status) != e.Status {
			if delivery.EndpointStatus(*p.Status) == delivery.EndpointEnabled {
				// A fresh start: the outage that disabled it is forgiven, and
				// nothing is redriven unless asked (skipped deliveries wait
				// for a redrive with status "skipped").
				e.Status, e.DisabledReason, e.FailingSince, resetHealth = delivery.EndpointEnabled, "", nil, true
			} else {
				disabling = true // below, with its event
			}
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET url = $2, enabled_events = $3, description = $4, paused = $5,
			status = $6, disabled_reason = $7, failing_since = CASE WHEN $8 THEN NULL ELSE failing_since END, updated_at = $9
			WHERE id = $1`, e.ID, e.URL, e.EnabledEvents, e.Description, e.Paused, e.Status, e.DisabledReason, resetHealth, now)
		if err != nil {
			return fmt.Errorf("update endpoint: %w", err)
		}
		if disabling {
			d, err := disableTx(ctx, tx, s.cfg.Inserter, e.ID, delivery.DisabledReasonManual, now)
			if err != nil {
				return err
			}
			e, disabled = d, true // d is set: the row is locked and was enabled
			return nil
		}
		if wasPaused && !e.Paused {
			return s.releaseHeldTx(ctx, tx, e.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if disabled {
		s.ops.endpointDisabled(e, delivery.CauseManual)
	}
	return e, nil
}

// DeleteEndpoint implements delivery.EndpointService. The row stays (its
// deliveries and attempts still reference it) but disappears from the API.
func (s *Service) DeleteEndpoint(ctx context.Context, merchantID, endpointID string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := lockEndpoint(ctx, tx, merchantID, endpointID)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET deleted_at = $2, updated_at = $2 WHERE id = $1`, e.ID, now); err != nil {
			return fmt.Errorf("delete endpoint: %w", err)
		}
		return cancelPendingTx(ctx, tx, e.ID, now)
	})
}

// RollSecret implements delivery.EndpointService.
func (s *Service) RollSecret(ctx context.Context, merchantID, endpointID string, expirePreviousIn time.Duration) (*delivery.Endpoint, error) {
	if expirePreviousIn < 0 || expirePreviousIn > delivery.MaxSecretOverlap {
		return nil, &validation.Error{Param: "expire_previous_in", Code: validation.CodeInvalid,
			Message: fmt.Sprintf("must be between 0 and %d seconds", int(delivery.MaxSecretOverlap.Seconds()))}
	}
	return inTx(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) (*delivery.Endpoint, error) {
		e, err := lockEndpoint(ctx, tx, merchantID, endpointID)
		if err != nil {
			return nil, err
		}
		now := s.cfg.Now()
		e.Secret = webhook.NewSecret()
		var previousExpires *time.Time
		if expirePreviousIn > 0 {
			t := now.Add(expirePreviousIn)
			previousExpires = &t
		}
		// The current sealed secret becomes the previous one as it is: both
		// are sealed under the endpoint id, so there is no need to open it.
		_, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET
			previous_secret_sealed = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE secret_sealed END,
			previous_secret_expires_at = $3, secret_sealed = $2, updated_at = $4 WHERE id = $1`,
			e.ID, s.cfg.Box.Seal(e.Secret, e.ID), previousExpires, now)
		if err != nil {
			return nil, fmt.Errorf("roll secret: %w", err)
		}
		return e, nil
	})
}

// cancelPendingTx cancels an endpoint's pending deliveries in tx, one
// statement for each of the two ways StatusBranches finds them, in the
// order below (not StatusBranches' own). Their jobs, if any, find them
// cancelled and stop without an attempt.
func cancelPendingTx(ctx context.Context, tx pgx.Tx, endpointID string, now time.Time) error {
	// The queued branch goes first. A pending delivery only ever moves from
	// it to the rare one (put off at a cap or an open breaker, held, tried
	// and failed), never back, and each statement sees what was committed
	// before it began, re-checking a row another transaction was changing.
	// So a delivery that moves while the first statement runs is left to
	// the second, which finds it; in the other order it escaped both and
	// stayed pending until its job woke to an endpoint disabled.
	for _, where := range []string{queued, RareStatus(delivery.StatusPending)} {
		_, err := tx.Exec(ctx, `UPDATE deliveries d SET status = $3, held = false, next_attempt_at = NULL, completed_at = $2,
			`+setRareStatus(map[string]string{"status": "$3", "held": "false"})+`
			WHERE d.endpoint_id = $1 AND `+where, endpointID, now, delivery.StatusCanceled)
		if err != nil {
			return fmt.Errorf("cancel pending deliveries: %w", err)
		}
	}
	return nil
}

// releaseHeldTx enqueues the deliveries a paused endpoint was holding. Each
// gets a new job_seq: the job that held it may still be finishing (River
// has not yet recorded it cancelled), and a job with the same unique key
// would be skipped as its duplicate.
func (s *Service) releaseHeldTx(ctx context.Context, tx pgx.Tx, endpointID string) error {
	rows, err := tx.Query(ctx, `UPDATE deliveries d SET held = false, job_seq = job_seq + 1,
		`+setRareStatus(map[string]string{"held": "false", "job_seq": "d.job_seq + 1"})+`
		WHERE d.endpoint_id = $1 AND `+RareStatus(delivery.StatusPending)+` AND d.held RETURNING id, job_seq`, endpointID)
	if err != nil {
		return fmt.Errorf("release held deliveries: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeliverArgs, error) {
		var job DeliverArgs
		return job, row.Scan(&job.DeliveryID, &job.Seq)
	})
	if err != nil {
		return fmt.Errorf("release held deliveries: %w", err)
	}
	return enqueueTx(ctx, tx, s.cfg.Inserter, jobs)
}
