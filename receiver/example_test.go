package receiver_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/webhook"
)

// A complete receiver: verify, deduplicate, fulfil each paid session once.
// In production use pgstore.New and write the order through
// pgstore.TxFromContext(ctx), so the order and the dedup mark commit
// together; on the success page call fulfiller.Fulfil with the session the
// client's Sessions.Get returned.
func Example() {
	secret := webhook.NewSecret() // in production: the endpoint's whsec_ secret
	store := receiver.NewMemoryStore()
	fulfiller := receiver.NewFulfiller(store, func(ctx context.Context, s *webhook.CheckoutSession, via string) error {
		fmt.Println("ship order", s.ClientReferenceID, "via", via)
		return nil
	})
	h, err := receiver.NewHandler(store, secret)
	if err != nil {
		log.Fatal(err)
	}
	h.On(webhook.TypeCheckoutSessionCompleted, fulfiller.HandleCompleted)
	// http.Handle("/webhooks/herald", h)

	// Herald delivers the event twice (a retry after a timeout, say).
	body := []byte(`{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1700000000,` +
		`"data":{"object":{"id":"cs_1","object":"checkout.session","payment_status":"paid","client_reference_id":"order-42"}}}`)
	key, _ := webhook.ParseSecret(secret)
	for range 2 {
		req := httptest.NewRequest("POST", "/webhooks/herald", bytes.NewReader(body))
		webhook.SetHeaders(req.Header, [][]byte{key}, "evt_1", time.Now(), body)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// ship order order-42 via webhook
	// 200 processed
	// 200 duplicate: already processed
}
