package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/heraldpay/herald/client"
)

func Example() {
	// A stand-in for Herald that answers session creation as the API does.
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"cs_test_a1b2c3","object":"checkout.session",
			"url":"https://pay.herald.example/pay/cs_test_a1b2c3","status":"open","payment_status":"unpaid",
			"currency":"usd","amount_subtotal":3250,"amount_total":3250,
			"line_items":[{"name":"Notebook","unit_amount":1500,"quantity":2,"amount_total":3000},
			              {"name":"Pen","unit_amount":250,"quantity":1,"amount_total":250}],
			"success_url":"https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}","cancel_url":"https://shop.example/cart",
			"customer_email":null,"client_reference_id":"order-1001","metadata":{},
			"created":1795608000,"expires_at":1795609800,"payment":null}`)
	}))
	defer herald.Close()

	c := client.New(herald.URL, "sk_test_example")
	sess, err := c.Sessions.Create(context.Background(), client.CreateSessionParams{
		LineItems: []client.LineItemParams{
			{Name: "Notebook", UnitAmount: 1500, Quantity: 2},
			{Name: "Pen", UnitAmount: 250, Quantity: 1},
		},
		Currency:          "usd",
		SuccessURL:        "https://shop.example/thanks?session_id=" + client.SessionIDPlaceholder,
		CancelURL:         "https://shop.example/cart",
		ClientReferenceID: "order-1001",
	}, client.WithIdempotencyKey("order-1001")) // the order id: a repeat never creates a second session
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sess.ID, sess.Status, sess.AmountTotal)
	fmt.Println("expires at", sess.ExpiresAt.Format(time.RFC3339))

	// In the shop's checkout handler: send the customer's browser to the page.
	w := httptest.NewRecorder()
	http.Redirect(w, httptest.NewRequest(http.MethodPost, "/checkout", nil), sess.URL, http.StatusSeeOther)
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output:
	// cs_test_a1b2c3 open 3250
	// expires at 2026-11-25T12:30:00Z
	// 303 https://pay.herald.example/pay/cs_test_a1b2c3
}
