package client

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/webhook"
)

var (
	created   = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) // 1795608000
	openSess  = openSession()
	endpoint1 = WebhookEndpoint{
		ID: "we_7Kp", Object: "webhook_endpoint", URL: "https://example.com/webhooks", Description: "",
		EnabledEvents: []string{"*"}, Status: webhook.EndpointStatusDisabled, DisabledReason: "the endpoint answered 410 Gone",
		Paused: true,
		Health: EndpointHealth{BreakerState: webhook.BreakerHalfOpen, LastSuccessAt: created.Add(100 * time.Second),
			FailingSince: created.Add(1000 * time.Second)},
		Created: created,
	}
)

func openSession() CheckoutSession {
	return CheckoutSession{
		ID: "cs_Wq3abc", Object: "checkout.session", URL: "http://127.0.0.1:8080/pay/cs_Wq3abc",
		Status: webhook.SessionStatusOpen, PaymentStatus: webhook.PaymentStatusUnpaid, Currency: "usd",
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
				ID: "cs_Wq3abc", Object: "checkout.session", URL: "", Status: webhook.SessionStatusComplete,
				PaymentStatus: webhook.PaymentStatusPaid, Currency: "jpy", AmountSubtotal: 1500, AmountTotal: 1500,
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
			got, err := f.client().Sessions.Get(testContext(t), tt.want.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)
			require.Equal(t, time.UTC, got.Created.Location())

			// Marshalling writes the API's shape back, and decodes to the same.
			b := requireRoundTrip(t, got)
			var fields map[string]any
			require.NoError(t, json.Unmarshal(b, &fields))
			require.Equal(t, float64(created.Unix()), fields["created"])
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
				EnabledEvents: []string{webhook.TypeCheckoutSessionCompleted}, Status: webhook.EndpointStatusEnabled,
				Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Health: EndpointHealth{BreakerState: webhook.BreakerClosed},
				Created: created,
			},
		},
		{name: "disabled, paused, failing", json: disabledEndpointJSON, want: endpoint1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, answer{body: tt.json})
			got, err := f.client().Endpoints.Get(testContext(t), tt.want.ID)
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)
			requireRoundTrip(t, got)
		})
	}
}

// requireRoundTrip marshals got and requires the JSON to decode to the
// same object; it returns the JSON.
func requireRoundTrip[T any](t *testing.T, got *T) []byte {
	t.Helper()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	var again T
	require.NoError(t, json.Unmarshal(b, &again))
	require.Equal(t, *got, again)
	return b
}

func TestMarshalNullTimes(t *testing.T) {
	t.Parallel()

	b, err := json.Marshal(EndpointHealth{BreakerState: webhook.BreakerOpen, FailingSince: created})
	require.NoError(t, err)
	require.JSONEq(t, `{"breaker_state":"open","last_success_at":null,"failing_since":1795608000}`, string(b))
}

func TestDecodeLists(t *testing.T) {
	t.Parallel()

	t.Run("sessions, more to come", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: listJSON(true, openSessionJSON)})
		got, err := f.client().Sessions.Page(testContext(t), ListParams{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, &List[CheckoutSession]{Object: "list", Data: []CheckoutSession{openSess}, HasMore: true}, got)
	})
	t.Run("sessions, empty", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: listJSON(false)})
		got, err := f.client().Sessions.Page(testContext(t), ListParams{})
		require.NoError(t, err)
		require.Equal(t, &List[CheckoutSession]{Object: "list", Data: []CheckoutSession{}, HasMore: false}, got)
	})
	t.Run("endpoints, last page", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: listJSON(false, disabledEndpointJSON, disabledEndpointJSON)})
		got, err := f.client().Endpoints.Page(testContext(t), ListParams{StartingAfter: "we_1"})
		require.NoError(t, err)
		require.Equal(t, &List[WebhookEndpoint]{Object: "list", Data: []WebhookEndpoint{endpoint1, endpoint1}}, got)
	})
}

func TestDecodeMalformedAnswer(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, answer{body: `{"id": 42`})
	_, err := f.client().Sessions.Get(testContext(t), "cs_Wq3abc")
	require.ErrorContains(t, err, "herald: GET /v1/checkout/sessions/cs_Wq3abc: decode response")
	require.Len(t, f.received(), 1, "a 200 is final, even unreadable")
}

// Each object decodes with nulls as zero values and marshals back to the
// API's JSON exactly, nulls included.
func TestDecodeRoundTrips(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name  string
		json  string
		fetch func(ctx context.Context, c *Client) (any, error)
		check func(t *testing.T, got any)
	}{
		{
			name: "failed delivery with attempts", json: failedDeliveryJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) { return c.Deliveries.Get(ctx, "dlv_3Rz") },
			check: func(t *testing.T, got any) {
				d := got.(*Delivery)
				require.Equal(t, "evt_5Tq", d.EventID)
				require.Equal(t, "we_7Kp", d.EndpointID)
				require.Equal(t, webhook.DeliveryStatusFailed, d.Status)
				require.Equal(t, 503, d.LastStatusCode)
				require.True(t, d.NextAttemptAt.IsZero())
				require.Equal(t, created.Add(6*time.Second), d.CompletedAt)
				require.Len(t, d.Attempts, 2)
				require.Zero(t, d.Attempts[0].ResponseStatus, "no answer: null status")
				require.Nil(t, d.Attempts[0].ResponseHeaders)
				require.Equal(t, "connection_refused", d.Attempts[0].ErrorClass)
				require.Equal(t, webhook.TriggerRetry, d.Attempts[1].Trigger)
				require.Equal(t, 503, d.Attempts[1].ResponseStatus)
				require.Equal(t, "60", d.Attempts[1].ResponseHeaders["Retry-After"])
			},
		},
		{
			name: "held delivery", json: pendingDeliveryJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) { return c.Deliveries.Get(ctx, "dlv_4Hb") },
			check: func(t *testing.T, got any) {
				d := got.(*Delivery)
				require.True(t, d.Held)
				require.Equal(t, webhook.HeldEndpointPaused, d.HeldReason)
				require.Zero(t, d.LastStatusCode)
				require.Empty(t, d.LastErrorClass)
				require.Nil(t, d.Attempts)
			},
		},
		{
			name: "running redrive", json: redriveJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) { return c.Redrives.Get(ctx, "rdr_8Mn") },
			check: func(t *testing.T, got any) {
				require.Equal(t, &Redrive{ID: "rdr_8Mn", Object: "redrive", Status: RedriveStatusRunning,
					Filter:  RedriveFilter{EndpointID: "we_7Kp", Status: webhook.DeliveryStatusSkipped, Since: time.Unix(1795600000, 0).UTC()},
					Matched: 12, Enqueued: 5, Created: created}, got)
			},
		},
		{
			name: "dry run: no id, no status", json: dryRunJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) {
				return c.Redrives.Create(ctx, RedriveParams{DryRun: true})
			},
			check: func(t *testing.T, got any) {
				r := got.(*Redrive)
				require.Empty(t, r.ID)
				require.Empty(t, r.Status)
				require.True(t, r.DryRun)
				require.Equal(t, 3, r.Matched)
			},
		},
		{
			name: "event", json: eventJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) { return c.Events.Get(ctx, "evt_5Tq") },
			check: func(t *testing.T, got any) {
				s, err := got.(*Event).Session()
				require.NoError(t, err)
				require.Equal(t, "ch_9xY", s.Payment.ID)
			},
		},
		{name: "complete session", json: completeSessionJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) { return c.Sessions.Get(ctx, "cs_Wq3abc") },
			check: func(t *testing.T, got any) { require.Empty(t, got.(*CheckoutSession).URL) }},
		{name: "disabled endpoint", json: disabledEndpointJSON,
			fetch: func(ctx context.Context, c *Client) (any, error) { return c.Endpoints.Get(ctx, "we_7Kp") },
			check: func(t *testing.T, got any) { require.Equal(t, endpoint1, *got.(*WebhookEndpoint)) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, answer{body: tt.json})
			got, err := tt.fetch(testContext(t), f.client())
			require.NoError(t, err)
			tt.check(t, got)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, tt.json, string(b), "marshalled back to the API's JSON")
		})
	}
}
