package client

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	created   = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // 1795608000
	openSess  = openSession()
	endpoint1 = WebhookEndpoint{
		ID: "we_7Kp", Object: "webhook_endpoint", URL: "https://example.com/webhooks", Description: "",
		EnabledEvents: []string{"*"}, Status: EndpointStatusDisabled, DisabledReason: "the endpoint answered 410 Gone",
		Paused: true,
		Health: EndpointHealth{BreakerState: BreakerHalfOpen, LastSuccessAt: created.Add(100 * time.Second),
			FailingSince: created.Add(1000 * time.Second)},
		Created: created,
	}
)

func openSession() CheckoutSession {
	return CheckoutSession{
		ID: "cs_Wq3abc", Object: "checkout.session", URL: "http://127.0.0.1:8080/pay/cs_Wq3abc",
		Status: SessionStatusOpen, PaymentStatus: PaymentStatusUnpaid, Currency: "usd",
		AmountSubtotal: 3250, AmountTotal: 3250,
		LineItems: []LineItem{
			{Name: "Notebook", UnitAmount: 1500, Quantity: 2, AmountTotal: 3000, ImageURL: "https://example.com/notebook.png"},
			{Name: "Pen", UnitAmount: 250, Quantity: 1, AmountTotal: 250},
		},
		SuccessURL: "https://example.com/success?session_id={CHECKOUT_SESSION_ID}", CancelURL: "https://example.com/cart",
		CustomerEmail: "jo@example.com", ClientReferenceID: "order-1001", Metadata: map[string]string{"order_id": "1001"},
		Created: created, ExpiresAt: created.Add(30 * time.Minute),
	}
}

func TestDecodeSession(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		json string
		want CheckoutSession
	}{
		{name: "open, as created", json: openSessionJSON, want: openSess},
		{
			name: "complete: nulls become zero values", json: completeSessionJSON,
			want: CheckoutSession{
				ID: "cs_Wq3abc", Object: "checkout.session", URL: "", Status: SessionStatusComplete,
				PaymentStatus: PaymentStatusPaid, Currency: "jpy", AmountSubtotal: 1500, AmountTotal: 1500,
				LineItems:  []LineItem{{Name: "Tea", UnitAmount: 1500, Quantity: 1, AmountTotal: 1500}},
				SuccessURL: "https://example.com/success", CancelURL: "https://example.com/cart",
				Metadata: map[string]string{}, Created: created, ExpiresAt: created.Add(time.Hour),
				Payment: &Payment{ID: "ch_9xY", Brand: "visa", Last4: "4242", ThreeDSecure: "authenticated"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, answer{body: tt.json})
			got, err := f.client().GetSession(t.Context(), tt.want.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)
			require.Equal(t, time.UTC, got.Created.Location())

			// Marshalling writes the API's shape back, and decodes to the same.
			b, err := json.Marshal(got)
			require.NoError(t, err)
			var fields map[string]any
			require.NoError(t, json.Unmarshal(b, &fields))
			require.Equal(t, float64(created.Unix()), fields["created"])
			var again CheckoutSession
			require.NoError(t, json.Unmarshal(b, &again))
			require.Equal(t, *got, again)
		})
	}
}

func TestDecodeEndpoint(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		json string
		want WebhookEndpoint
	}{
		{
			name: "created: secret shown, health times null", json: createdEndpointJSON,
			want: WebhookEndpoint{
				ID: "we_7Kp", Object: "webhook_endpoint", URL: "https://example.com/webhooks", Description: "fulfilment",
				EnabledEvents: []string{EventCheckoutSessionCompleted}, Status: EndpointStatusEnabled,
				Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Health: EndpointHealth{BreakerState: BreakerClosed},
				Created: created,
			},
		},
		{name: "disabled, paused, failing", json: disabledEndpointJSON, want: endpoint1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, answer{body: tt.json})
			got, err := f.client().GetEndpoint(t.Context(), tt.want.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)

			b, err := json.Marshal(got)
			require.NoError(t, err)
			var again WebhookEndpoint
			require.NoError(t, json.Unmarshal(b, &again))
			require.Equal(t, *got, again)
		})
	}
}

func TestMarshalNullTimes(t *testing.T) {
	t.Parallel()

	b, err := json.Marshal(EndpointHealth{BreakerState: BreakerOpen, FailingSince: created})
	require.NoError(t, err)
	require.JSONEq(t, `{"breaker_state":"open","last_success_at":null,"failing_since":1795608000}`, string(b))
}

func TestDecodeLists(t *testing.T) {
	t.Parallel()

	t.Run("sessions, more to come", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: listJSON(true, openSessionJSON)})
		got, err := f.client().ListSessions(t.Context(), ListParams{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, &List[CheckoutSession]{Object: "list", Data: []CheckoutSession{openSess}, HasMore: true}, got)
	})
	t.Run("sessions, empty", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: listJSON(false)})
		got, err := f.client().ListSessions(t.Context(), ListParams{})
		require.NoError(t, err)
		require.Equal(t, &List[CheckoutSession]{Object: "list", Data: []CheckoutSession{}, HasMore: false}, got)
	})
	t.Run("endpoints, last page", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: listJSON(false, disabledEndpointJSON, disabledEndpointJSON)})
		got, err := f.client().ListEndpoints(t.Context(), ListParams{StartingAfter: "we_1"})
		require.NoError(t, err)
		require.Equal(t, &List[WebhookEndpoint]{Object: "list", Data: []WebhookEndpoint{endpoint1, endpoint1}}, got)
	})
}

func TestDecodeMalformedAnswer(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, answer{body: `{"id": 42`})
	_, err := f.client().GetSession(t.Context(), "cs_Wq3abc")
	require.ErrorContains(t, err, "herald: GET /v1/checkout/sessions/cs_Wq3abc: decode response")
	require.Len(t, f.received(), 1, "a 200 is final, even unreadable")
}
