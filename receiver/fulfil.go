package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/heraldpay/herald/webhook"
)

// Paths by which a fulfilment can arrive.
const (
	ViaWebhook     = "webhook"
	ViaSuccessPage = "success_page"
)

// ErrNotPaid is returned when asked to fulfil a session that is not paid.
var ErrNotPaid = errors.New("receiver: checkout session is not paid")

// Session is the part of a checkout session fulfilment needs, as Herald's
// API and webhooks render it.
type Session struct {
	ID                string            `json:"id"`
	Status            string            `json:"status"`
	PaymentStatus     string            `json:"payment_status"`
	AmountTotal       int64             `json:"amount_total"`
	Currency          string            `json:"currency"`
	CustomerEmail     string            `json:"customer_email"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
}

// FulfilFunc ships the order behind a paid session. via says which path
// got there first (ViaWebhook or ViaSuccessPage). With a PostgresStore,
// write through TxFromContext(ctx) so the order and the "fulfilled" mark
// commit together.
type FulfilFunc func(ctx context.Context, s Session, via string) error

// Fulfiller runs a FulfilFunc exactly once per checkout session, following
// Stripe's recommended pattern: call it from the webhook handler and from
// the success page; whichever comes first fulfils, the other is a no-op,
// and if the customer never comes back the webhook alone does it.
type Fulfiller struct {
	store  Store
	fulfil FulfilFunc
}

// NewFulfiller returns a Fulfiller recording fulfilled sessions in store.
func NewFulfiller(store Store, fulfil FulfilFunc) *Fulfiller {
	return &Fulfiller{store: store, fulfil: fulfil}
}

// Fulfil fulfils s unless that was done already, and reports whether this
// call did it. A session that is not paid is not fulfilled: ErrNotPaid.
// Only pass a session you got from Herald itself — a verified webhook or the
// API — never one built from the success page's query string.
func (f *Fulfiller) Fulfil(ctx context.Context, s Session, via string) (bool, error) {
	if s.PaymentStatus != "paid" {
		return false, ErrNotPaid
	}
	return f.store.Once(ctx, "session:"+s.ID, func(ctx context.Context) error { return f.fulfil(ctx, s, via) })
}

// HandleCompleted is an EventFunc for checkout.session.completed:
//
//	h.On(webhook.TypeCheckoutSessionCompleted, fulfiller.HandleCompleted)
func (f *Fulfiller) HandleCompleted(ctx context.Context, ev webhook.Event) error {
	var s Session
	if err := json.Unmarshal(ev.Data.Object, &s); err != nil {
		return fmt.Errorf("receiver: decode session of %s: %w", ev.ID, err)
	}
	_, err := f.Fulfil(ctx, s, ViaWebhook)
	if errors.Is(err, ErrNotPaid) {
		return nil // nothing to ship; retrying would not change that
	}
	return err
}
