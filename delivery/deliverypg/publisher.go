package deliverypg

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// PublishTx records events for merchantID and fans them out, all in tx: one
// delivery row per subscribed, enabled endpoint, and one River job per
// delivery (none for a paused endpoint: its deliveries are held until it is
// resumed). It must run inside the transaction that makes the change the
// events describe, so that a committed change always has its deliveries and
// a rolled-back one never does.
func (s *Service) PublishTx(ctx context.Context, tx pgx.Tx, merchantID string, events ...webhook.Event) error {
	if len(events) == 0 {
		return nil
	}
	// A batch of statements rather than COPY: a checkout writes one to three
	// events, where COPY's extra round trips cost more than they save.
	batch := &pgx.Batch{}
	for _, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("marshal event %s: %w", ev.ID, err)
		}
		batch.Queue(`INSERT INTO events (id, merchant_id, type, created_at, body) VALUES ($1, $2, $3, $4, $5)`,
			ev.ID, merchantID, ev.Type, time.Unix(ev.Created, 0), string(body))
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}

	rows, err := tx.Query(ctx, `SELECT id, enabled_events, paused FROM webhook_endpoints
		WHERE merchant_id = $1 AND status = 'enabled' AND deleted_at IS NULL`, merchantID)
	if err != nil {
		return fmt.Errorf("select endpoints: %w", err)
	}
	endpoints, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.Endpoint, error) {
		var e delivery.Endpoint
		return e, row.Scan(&e.ID, &e.EnabledEvents, &e.Paused)
	})
	if err != nil {
		return fmt.Errorf("select endpoints: %w", err)
	}

	batch = &pgx.Batch{}
	var jobs []DeliverArgs
	for _, ev := range events {
		for _, e := range endpoints {
			if !e.Subscribes(ev.Type) {
				continue
			}
			deliveryID := id.New("dlv")
			batch.Queue(`INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, held)
				VALUES ($1, $2, $3, $4, $5, $6)`, deliveryID, merchantID, ev.ID, e.ID, ev.Type, e.Paused)
			if !e.Paused {
				jobs = append(jobs, DeliverArgs{DeliveryID: deliveryID, EndpointID: e.ID})
			}
		}
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return fmt.Errorf("insert deliveries: %w", err)
		}
	}
	return enqueueTx(ctx, tx, s.cfg.Inserter, jobs)
}
