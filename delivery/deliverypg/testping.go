package deliverypg

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// SendTestEvent implements delivery.EndpointService. The test.ping event
// gets a delivery to this endpoint only, written and enqueued in one
// transaction like any other event, so that it travels the normal path:
// signed with the endpoint's secrets, retried, recorded, redrivable. It is
// written here rather than through publishTx because no subscription
// matches it, "*" included.
func (s *Service) SendTestEvent(ctx context.Context, merchantID, endpointID string) (*delivery.Delivery, error) {
	deliveryID := id.New("dlv")
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// KEY SHARE, as a fan-out's foreign key takes: a disable running at
		// the same time either waits for this delivery (and cancels it) or
		// is seen here.
		e, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
			WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL FOR KEY SHARE`, endpointID, merchantID))
		if err != nil {
			return err
		}
		if e.Status != delivery.EndpointEnabled {
			return delivery.ErrEndpointDisabled
		}
		now := s.cfg.Now()
		ev, err := webhook.NewEvent(id.New("evt"), webhook.TypeTestPing, now.Unix(), e)
		if err != nil {
			return fmt.Errorf("build test event: %w", err)
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("marshal test event: %w", err)
		}
		_, err = tx.Exec(ctx, `
			WITH ev AS (INSERT INTO events (id, merchant_id, type, created_at, body) VALUES ($1, $2, $3, $4, $5::json) RETURNING id)
			INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, held)
			SELECT $6, $2, ev.id, $7, $3, $8, $9 FROM ev`,
			ev.ID, merchantID, ev.Type, now, string(body), deliveryID, e.ID, delivery.StatusPending, e.Paused)
		if err != nil {
			return fmt.Errorf("insert test event: %w", err)
		}
		if e.Paused {
			// Held like every delivery to a paused endpoint: resuming sends it.
			return nil
		}
		return enqueueTx(ctx, tx, s.cfg.Inserter, []DeliverArgs{{DeliveryID: deliveryID}})
	})
	if err != nil {
		return nil, err
	}
	return s.FindDelivery(ctx, merchantID, deliveryID)
}
