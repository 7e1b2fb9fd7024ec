package receiver

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/webhook"
)

func TestFulfillerOncePerSession(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	var mu sync.Mutex
	var shipped []string
	f := NewFulfiller(NewMemoryStore(), func(_ context.Context, s Session, via string) error {
		mu.Lock()
		defer mu.Unlock()
		shipped = append(shipped, s.ID+" via "+via)
		return nil
	})

	_, err := f.Fulfil(ctx, Session{ID: "cs_1", PaymentStatus: "unpaid"}, ViaSuccessPage)
	require.ErrorIs(t, err, ErrNotPaid)

	obj, err := json.Marshal(Session{ID: "cs_1", Status: "complete", PaymentStatus: "paid"})
	require.NoError(t, err)
	ev := webhook.Event{ID: "evt_1", Type: webhook.TypeCheckoutSessionCompleted, Data: webhook.EventData{Object: obj}}

	var wg sync.WaitGroup
	wg.Go(func() { require.NoError(t, f.HandleCompleted(ctx, ev)) })
	wg.Go(func() {
		_, err := f.Fulfil(ctx, Session{ID: "cs_1", PaymentStatus: "paid"}, ViaSuccessPage)
		require.NoError(t, err)
	})
	wg.Wait()
	require.Len(t, shipped, 1, "the webhook and the success page race; one fulfils")

	ran, err := f.Fulfil(ctx, Session{ID: "cs_1", PaymentStatus: "paid"}, ViaSuccessPage)
	require.NoError(t, err)
	require.False(t, ran)

	unpaid, err := json.Marshal(Session{ID: "cs_2", PaymentStatus: "unpaid"})
	require.NoError(t, err)
	require.NoError(t, f.HandleCompleted(ctx, webhook.Event{ID: "evt_2", Data: webhook.EventData{Object: unpaid}}),
		"an unpaid session is acknowledged, not retried")
	require.ErrorContains(t, f.HandleCompleted(ctx, webhook.Event{ID: "evt_3", Data: webhook.EventData{Object: []byte(`[]`)}}), "decode")
	require.Len(t, shipped, 1)
}
