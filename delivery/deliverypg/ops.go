package deliverypg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// Operational events (webhook_endpoint.disabled, delivery.failed) are
// raised in the transaction that makes the change they report, like every
// other event, so that a disable or a failure is never committed without
// its event. Once that transaction has committed, each is also logged (one
// WARN line) and counted by an opsLog.

// disableTx disables an enabled endpoint with reason, cancels its pending
// deliveries and raises webhook_endpoint.disabled to the merchant's other
// endpoints, all in tx. It returns nil when the endpoint was not enabled
// (already disabled, deleted or unknown): the transition, and so the
// event, happens once however many callers race to it.
func disableTx(ctx context.Context, tx pgx.Tx, inserter JobInserter, endpointID, reason string, now time.Time) (*delivery.Endpoint, error) {
	// FOR UPDATE, not the plain UPDATE's weaker lock: it waits for every
	// transaction that is fanning an event out to this endpoint (their
	// deliveries' foreign key holds a KEY SHARE lock on the row), so that
	// the cancelling below sees their deliveries; and a fan-out that comes
	// after finds the endpoint disabled when its job loads it.
	e, err := scanEndpoint(tx.QueryRow(ctx, `UPDATE webhook_endpoints SET status = $2, disabled_reason = $3, updated_at = $4
		WHERE id = (SELECT id FROM webhook_endpoints WHERE id = $1 AND status = $5 AND deleted_at IS NULL FOR UPDATE)
		RETURNING `+endpointColumns,
		endpointID, delivery.EndpointDisabled, reason, now, delivery.EndpointEnabled))
	if errors.Is(err, delivery.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("disable endpoint: %w", err)
	}
	if err := cancelPendingTx(ctx, tx, endpointID, now); err != nil {
		return nil, err
	}
	if err := raiseTx(ctx, tx, inserter, e.MerchantID, e.ID, webhook.TypeWebhookEndpointDisabled, e, now); err != nil {
		return nil, err
	}
	return e, nil
}

// failedTx raises delivery.failed about d, which has just used up its
// attempts, to the merchant's other endpoints. A failed delivery of an
// operational event raises nothing: operational events are never raised
// about each other, so one broken endpoint cannot start a cascade; nor does
// a test.ping, which only checks the one endpoint it was sent to.
func failedTx(ctx context.Context, tx pgx.Tx, inserter JobInserter, d *delivery.Delivery, now time.Time) (bool, error) {
	if webhook.IsOperational(d.EventType) || d.EventType == webhook.TypeTestPing {
		return false, nil
	}
	return true, raiseTx(ctx, tx, inserter, d.MerchantID, d.EndpointID, webhook.TypeDeliveryFailed, d, now)
}

// raiseTx publishes an operational event about endpointID (which never
// receives it) with obj as its data.
func raiseTx(ctx context.Context, tx pgx.Tx, inserter JobInserter, merchantID, endpointID, typ string, obj any, now time.Time) error {
	ev, err := webhook.NewEvent(id.New("evt"), typ, now.Unix(), obj)
	if err != nil {
		return fmt.Errorf("build %s event: %w", typ, err)
	}
	return publishTx(ctx, tx, inserter, merchantID, outgoingEvent{Event: ev, aboutEndpoint: endpointID})
}

// opsLog reports committed operational events: one WARN line each, and
// their counters.
type opsLog struct {
	logger  *slog.Logger
	metrics *Metrics
}

// endpointDisabled reports e, disabled for cause.
func (o opsLog) endpointDisabled(e *delivery.Endpoint, cause delivery.DisableCause) {
	o.logger.Warn("webhook endpoint disabled", "endpoint_id", e.ID, "merchant_id", e.MerchantID,
		"cause", string(cause), "reason", e.DisabledReason)
	o.metrics.endpointDisabled(cause)
}

// deliveryFailed reports d, which used up its attempts.
func (o opsLog) deliveryFailed(d *delivery.Delivery) {
	o.logger.Warn("webhook delivery failed", "delivery_id", d.ID, "endpoint_id", d.EndpointID, "merchant_id", d.MerchantID,
		"event_id", d.EventID, "event_type", d.EventType, "attempts", d.Attempts, "last_status_code", d.LastStatusCode,
		"last_error_class", string(d.LastErrorClass))
	o.metrics.deliveryFailed()
}
