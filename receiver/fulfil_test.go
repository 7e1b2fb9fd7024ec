package receiver

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/webhook"
)

// paidSession is a complete session with every field set, as the API and
// the webhook render it.
func paidSession(id string) *webhook.CheckoutSession {
	return &webhook.CheckoutSession{
		ID: id, Object: "checkout.session", Status: webhook.SessionStatusComplete, PaymentStatus: webhook.PaymentStatusPaid,
		Currency: "usd", AmountSubtotal: 3250, AmountTotal: 3250,
		LineItems:  []webhook.LineItem{{Name: "Notebook", UnitAmount: 1500, Quantity: 2, AmountTotal: 3000}, {Name: "Pen", UnitAmount: 250, Quantity: 1, AmountTotal: 250}},
		SuccessURL: "https://shop.example/ok", CancelURL: "https://shop.example/cart",
		CustomerEmail: "jo@example.com", ClientReferenceID: "order-42", Metadata: map[string]string{"order_id": "42"},
		Created: time.Unix(1795608000, 0).UTC(), ExpiresAt: time.Unix(1795611600, 0).UTC(),
		Payment: &webhook.Payment{ID: "ch_1", Brand: "visa", Last4: "4242", ThreeDSecure: webhook.ThreeDSecureNotRequired},
	}
}

func completedEvent(t *testing.T, id string, s *webhook.CheckoutSession) webhook.Event {
	t.Helper()
	ev, err := webhook.NewEvent(id, webhook.TypeCheckoutSessionCompleted, 1795608000, s)
	require.NoError(t, err)
	return ev
}

func TestFulfillerOncePerSession(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	var mu sync.Mutex
	var shipped []*webhook.CheckoutSession
	var vias []string
	f := NewFulfiller(NewMemoryStore(), func(_ context.Context, s *webhook.CheckoutSession, via string) error {
		mu.Lock()
		defer mu.Unlock()
		shipped, vias = append(shipped, s), append(vias, via)
		return nil
	})

	unpaid := paidSession("cs_1")
	unpaid.PaymentStatus, unpaid.Status, unpaid.Payment = webhook.PaymentStatusUnpaid, webhook.SessionStatusOpen, nil
	_, err := f.Fulfil(ctx, unpaid, ViaSuccessPage)
	require.ErrorIs(t, err, ErrNotPaid)
	_, err = f.Fulfil(ctx, nil, ViaSuccessPage)
	require.ErrorContains(t, err, "nil")

	// The webhook and the success page race; one fulfils.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		require.NoError(t, f.HandleCompleted(ctx, completedEvent(t, "evt_1", paidSession("cs_1"))))
	}()
	go func() {
		defer wg.Done()
		_, err := f.Fulfil(ctx, paidSession("cs_1"), ViaSuccessPage)
		require.NoError(t, err)
	}()
	wg.Wait()
	require.Len(t, shipped, 1)
	require.Equal(t, paidSession("cs_1"), shipped[0], "the fulfil function sees the whole session, whichever path won")

	ran, err := f.Fulfil(ctx, paidSession("cs_1"), ViaSuccessPage)
	require.NoError(t, err)
	require.False(t, ran)
	require.Len(t, shipped, 1)
}

// The session a webhook brings and the one the API returns are one type:
// the webhook's decodes to every field, AmountTotal and Metadata included.
func TestFulfillerSeesTheWholeSessionFromTheWebhook(t *testing.T) {
	t.Parallel()

	var got *webhook.CheckoutSession
	var via string
	f := NewFulfiller(NewMemoryStore(), func(_ context.Context, s *webhook.CheckoutSession, v string) error {
		got, via = s, v
		return nil
	})
	require.NoError(t, f.HandleCompleted(context.Background(), completedEvent(t, "evt_1", paidSession("cs_1"))))
	require.Equal(t, paidSession("cs_1"), got)
	require.Equal(t, ViaWebhook, via)
}

func TestFulfillerHandleCompletedRefusals(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	var calls int
	f := NewFulfiller(NewMemoryStore(), func(context.Context, *webhook.CheckoutSession, string) error { calls++; return nil })

	unpaid := paidSession("cs_2")
	unpaid.PaymentStatus = webhook.PaymentStatusUnpaid
	require.NoError(t, f.HandleCompleted(ctx, completedEvent(t, "evt_2", unpaid)), "an unpaid session is acknowledged, not retried")

	charge, err := webhook.NewEvent("evt_3", webhook.TypeChargeSucceeded, 1, json.RawMessage(`{"id":"ch_1","object":"charge"}`))
	require.NoError(t, err)
	require.ErrorIs(t, f.HandleCompleted(ctx, charge), webhook.ErrUnexpectedObject, "registered for the wrong type: an error, not a half-empty session")

	require.ErrorContains(t, f.HandleCompleted(ctx, webhook.Event{ID: "evt_4", Data: webhook.EventData{Object: []byte(`[]`)}}), "decode")
	require.Zero(t, calls)
}
