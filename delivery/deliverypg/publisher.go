package deliverypg

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

// PublishTx records events for merchantID and fans them out, all in tx: one
// delivery row per subscribed endpoint, and one River job per delivery that
// can go now. A paused endpoint's deliveries are held (no job until it is
// resumed); a disabled endpoint's are skipped (no job, no attempt, until a
// redrive sends them). It must run inside the transaction that makes the
// change the events describe, so that a committed change always has its
// deliveries and a rolled-back one never does.
func (s *Service) PublishTx(ctx context.Context, tx pgx.Tx, merchantID string, events ...webhook.Event) error {
	out := make([]outgoingEvent, len(events))
	for i, ev := range events {
		out[i] = outgoingEvent{Event: ev}
	}
	return publishTx(ctx, tx, s.cfg.Inserter, merchantID, out...)
}

// outgoingEvent is an event to publish. An operational event names the
// endpoint it is about, which never receives it.
type outgoingEvent struct {
	webhook.Event
	aboutEndpoint string
}

// publishTx is PublishTx for any events, operational ones included.
func publishTx(ctx context.Context, tx pgx.Tx, inserter JobInserter, merchantID string, events ...outgoingEvent) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	ids, types, bodies, about := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	created := make([]time.Time, n)
	for i, ev := range events {
		body, err := json.Marshal(ev.Event)
		if err != nil {
			return fmt.Errorf("marshal event %s: %w", ev.ID, err)
		}
		ids[i], types[i], bodies[i], about[i] = ev.ID, ev.Type, string(body), ev.aboutEndpoint
		created[i] = time.Unix(ev.Created, 0)
	}
	// One statement writes the events and their deliveries: one delivery
	// per event and endpoint of the merchant subscribed to its type ("*" or
	// the type itself), except the endpoint an operational event is about.
	// Delivery ids come from gen_random_uuid, a strong random source, as 22
	// base62-ish characters.
	rows, err := tx.Query(ctx, `
		WITH input AS (
			SELECT * FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[])
				AS e(id, type, created_at, body, about)),
		ev AS (
			INSERT INTO events (id, merchant_id, type, created_at, body)
			SELECT id, $1, type, created_at, body::json FROM input
			RETURNING id)
		INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, held, completed_at)
		SELECT 'dlv_' || translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/=', ''), $1, i.id, w.id, i.type,
			CASE WHEN w.status = $7 THEN $8 ELSE $9 END, w.status = $7 AND w.paused,
			CASE WHEN w.status = $7 THEN NULL ELSE now() END
		FROM ev JOIN input i ON i.id = ev.id
		JOIN webhook_endpoints w ON w.merchant_id = $1 AND w.deleted_at IS NULL AND w.id <> i.about
			AND ('*' = ANY (w.enabled_events) OR i.type = ANY (w.enabled_events))
		RETURNING id, status, held`,
		merchantID, ids, types, created, bodies, about,
		delivery.EndpointEnabled, delivery.StatusPending, delivery.StatusSkipped)
	if err != nil {
		return fmt.Errorf("insert events and deliveries: %w", err)
	}
	var jobs []DeliverArgs
	for rows.Next() {
		var job DeliverArgs
		var status delivery.Status
		var held bool
		if err := rows.Scan(&job.DeliveryID, &status, &held); err != nil {
			return fmt.Errorf("insert events and deliveries: %w", err)
		}
		if status == delivery.StatusPending && !held {
			jobs = append(jobs, job)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert events and deliveries: %w", err)
	}
	return enqueueTx(ctx, tx, inserter, jobs)
}
