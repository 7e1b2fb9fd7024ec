package deliverypg

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
	ids, types, bodies := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	created := make([]time.Time, len(events))
	for i, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("marshal event %s: %w", ev.ID, err)
		}
		ids[i], types[i], bodies[i], created[i] = ev.ID, ev.Type, string(body), time.Unix(ev.Created, 0)
	}
	// One statement writes the events and their deliveries: one delivery
	// per event and enabled endpoint of the merchant subscribed to its type
	// ("*" or the type itself). Delivery ids come from gen_random_uuid, a
	// strong random source, as 22 base62-ish characters.
	rows, err := tx.Query(ctx, `
		WITH ev AS (
			INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT e.id, $1, e.type, e.created_at, e.body::json
			FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS e(id, type, created_at, body)
			RETURNING id, type)
		INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, held)
		SELECT 'dlv_' || translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/=', ''), $1, ev.id, w.id, ev.type, w.paused
		FROM ev JOIN webhook_endpoints w ON w.merchant_id = $1 AND w.status = 'enabled' AND w.deleted_at IS NULL
			AND ('*' = ANY (w.enabled_events) OR ev.type = ANY (w.enabled_events))
		RETURNING id, endpoint_id, held`, merchantID, ids, types, created, bodies)
	if err != nil {
		return fmt.Errorf("insert events and deliveries: %w", err)
	}
	var jobs []DeliverArgs
	for rows.Next() {
		var job DeliverArgs
		var held bool
		if err := rows.Scan(&job.DeliveryID, &job.EndpointID, &held); err != nil {
			return fmt.Errorf("insert events and deliveries: %w", err)
		}
		if !held {
			jobs = append(jobs, job)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert events and deliveries: %w", err)
	}
	return enqueueTx(ctx, tx, s.cfg.Inserter, jobs)
}
