package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/heraldpay/herald/webhook"
)

func ExampleVerifier() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from the dashboard

	// The receiver: verify the raw body before trusting or parsing it.
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		panic(err)
	}
	receive := func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent) // then decode a webhook.Event from body
	}

	// Herald's side, to drive the example: a signed delivery, then a forgery.
	key, _ := webhook.ParseSecret(secret)
	body := `{"id":"evt_1","object":"event","type":"charge.succeeded","created":1700000000,"data":{"object":{}}}`
	for _, sent := range []string{body, strings.Replace(body, "succeeded", "failed", 1)} {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/herald", strings.NewReader(sent))
		webhook.SetHeaders(req.Header, [][]byte{key}, "evt_1", time.Now(), []byte(body))
		rec := httptest.NewRecorder()
		receive(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}
	// Output:
	// 204
	// 400 webhook: no matching signature
}

func ExampleEvent_Session() {
	// A verified body, decoded: the envelope first, then its object.
	body := []byte(`{"id":"evt_1","object":"event","type":"checkout.session.completed","created":1795608000,
		"data":{"object":{"id":"cs_1","object":"checkout.session","payment_status":"paid","amount_total":3250,
		"currency":"usd","client_reference_id":"order-42","metadata":{"gift":"yes"}}}}`)
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		panic(err)
	}
	switch ev.Type {
	case webhook.TypeCheckoutSessionCompleted:
		s, err := ev.Session()
		if err != nil {
			panic(err)
		}
		fmt.Println(s.ClientReferenceID, s.IsPaid(), s.AmountTotal, s.Currency, s.Metadata["gift"])
	}
	// Output:
	// order-42 true 3250 usd yes
}
