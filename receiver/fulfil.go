package receiver

import (
	"context"
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

// FulfilFunc ships the order behind a paid session. s is the whole session
// as Herald's API and webhooks render it (amounts, line items, metadata,
// payment), whichever path brought it; via says which path got there
// first (ViaWebhook or ViaSuccessPage). With pgstore's Store, write through
// pgstore.TxFromContext(ctx) so the order and the "fulfilled" mark commit
// together.
type FulfilFunc func(ctx context.Context, s *webhook.CheckoutSession, via string) error

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
//
// Pass the session the client's Sessions.Get returned, as it is: it is the
// same type the webhook brings. Only pass a session you got from Herald
// itself — a verified webhook or the API — never one built from the
// success page's query string.
func (f *Fulfiller) Fulfil(ctx context.Context, s *webhook.CheckoutSession, via string) (bool, error) {
	if s == nil {
		return false, errors.New("receiver: Fulfil needs a checkout session, got nil")
	}
	if !s.IsPaid() {
		return false, ErrNotPaid
	}
	return f.store.Once(ctx, "session:"+s.ID, func(ctx context.Context) error { return f.fulfil(ctx, s, via) })
}

// HandleCompleted is an EventFunc for checkout.session.completed:
//
//	h.On(webhook.TypeCheckoutSessionCompleted, fulfiller.HandleCompleted)
func (f *Fulfiller) HandleCompleted(ctx context.Context, ev webhook.Event) error {
	s, err := ev.Session()
	if err != nil {
		return fmt.Errorf("receiver: %w", err)
	}
	_, err = f.Fulfil(ctx, s, ViaWebhook)
	if errors.Is(err, ErrNotPaid) {
		return nil // nothing to ship; retrying would not change that
	}
	return err
}
