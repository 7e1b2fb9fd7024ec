// Package deliverypg is the Postgres side of webhook delivery: the event log
// and the fan-out of events to merchant endpoints.
package deliverypg

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/webhook"
)

// Publisher records events inside the transaction of the change they
// describe, so an event exists if and only if its change committed.
type Publisher struct{}

// NewPublisher returns a Publisher.
func NewPublisher() *Publisher { return &Publisher{} }

// PublishTx inserts events for merchantID in tx. It must be called inside
// the transaction that makes the change the events describe.
func (p *Publisher) PublishTx(ctx context.Context, tx pgx.Tx, merchantID string, events ...webhook.Event) error {
	if len(events) == 0 {
		return nil
	}
	// A batch of INSERTs rather than CopyFrom: a checkout writes one to three
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
	return nil
}
