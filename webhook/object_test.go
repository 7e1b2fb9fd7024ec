package webhook

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Objects as Herald's server renders them (its MarshalJSON), with nulls.
const (
	sessionJSON = `{"id":"cs_1","object":"checkout.session","url":null,"status":"complete","payment_status":"paid",
 "currency":"usd","amount_subtotal":3250,"amount_total":3250,
 "line_items":[{"name":"Notebook","unit_amount":1500,"quantity":2,"amount_total":3000,"image_url":"https://example.com/n.png"},
               {"name":"Pen","unit_amount":250,"quantity":1,"amount_total":250}],
 "success_url":"https://example.com/ok","cancel_url":"https://example.com/cart","customer_email":"jo@example.com",
 "client_reference_id":null,"metadata":{"order_id":"1001"},"created":1795608000,"expires_at":1795611600,
 "payment":{"id":"ch_1","brand":"visa","last4":"4242","three_d_secure":"not_required"}}`

	failedChargeJSON = `{"id":"ch_2","object":"charge","amount":3250,"currency":"usd","status":"failed","paid":false,
 "failure_code":"card_declined","failure_message":"Your card was declined.","checkout_session":"cs_1","payment_method":"tok_1",
 "payment_method_details":{"card":{"brand":"visa","last4":"0002","exp_month":12,"exp_year":2040,"three_d_secure":"not_required"}},
 "billing_details":{"name":"Jo","email":null},"outcome":{"risk_level":"normal","decision":"allow","reasons":[]},"created":1795608000}`

	succeededChargeJSON = `{"id":"ch_1","object":"charge","amount":3250,"currency":"usd","status":"succeeded","paid":true,
 "failure_code":null,"failure_message":null,"checkout_session":"cs_1","payment_method":"tok_1",
 "payment_method_details":{"card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2040,"three_d_secure":"authenticated"}},
 "billing_details":{"name":null,"email":"jo@example.com"},"outcome":{"risk_level":"elevated","decision":"challenge","reasons":["amount_over_3ds_threshold"]},"created":1795608000}`

	endpointJSON = `{"id":"we_1","object":"webhook_endpoint","url":"https://example.com/hooks","description":"",
 "enabled_events":["*"],"status":"disabled","disabled_reason":"disabled through the API","paused":false,
 "health":{"breaker_state":"closed","last_success_at":1795608000,"failing_since":null},"created":1795600000}`

	deliveryJSON = `{"id":"dlv_1","object":"delivery","event":"evt_1","event_type":"checkout.session.completed","endpoint":"we_1",
 "status":"failed","held":false,"held_reason":null,"attempt_count":10,"next_attempt_at":null,"last_attempt_at":1795608000,
 "last_status_code":null,"last_error_class":"timeout","created":1795500000,"completed_at":1795608001}`
)

func event(typ, object string) Event {
	return Event{ID: "evt_9", Object: "event", Type: typ, Created: 1795608000, Data: EventData{Object: json.RawMessage(object)}}
}

func TestObjectsRoundTrip(t *testing.T) {
	t.Parallel()

	at := time.Unix(1795608000, 0).UTC()
	for _, tt := range []struct {
		name   string
		json   string
		decode func(Event) (any, error)
		check  func(t *testing.T, v any)
	}{
		{"session", sessionJSON, func(e Event) (any, error) { return e.Session() }, func(t *testing.T, v any) {
			s := v.(*CheckoutSession)
			require.Empty(t, s.URL)
			require.Empty(t, s.ClientReferenceID)
			require.Equal(t, int64(3250), s.AmountTotal)
			require.Equal(t, map[string]string{"order_id": "1001"}, s.Metadata)
			require.Equal(t, at, s.Created)
			require.True(t, s.IsPaid())
		}},
		{"failed charge", failedChargeJSON, func(e Event) (any, error) { return e.Charge() }, func(t *testing.T, v any) {
			c := v.(*Charge)
			require.Equal(t, "card_declined", c.FailureCode)
			require.Equal(t, "cs_1", c.CheckoutSessionID)
			require.Equal(t, "0002", c.PaymentMethodDetails.Card.Last4)
			require.Equal(t, BillingDetails{Name: "Jo"}, c.BillingDetails)
			require.Equal(t, []string{}, c.Outcome.Reasons)
		}},
		{"succeeded charge", succeededChargeJSON, func(e Event) (any, error) { return e.Charge() }, func(t *testing.T, v any) {
			c := v.(*Charge)
			require.Empty(t, c.FailureCode)
			require.True(t, c.Paid)
			require.Equal(t, RiskDecisionChallenge, c.Outcome.Decision)
		}},
		{"endpoint", endpointJSON, func(e Event) (any, error) { return e.Endpoint() }, func(t *testing.T, v any) {
			e := v.(*WebhookEndpoint)
			require.Equal(t, "disabled through the API", e.DisabledReason)
			require.Equal(t, at, e.Health.LastSuccessAt)
			require.True(t, e.Health.FailingSince.IsZero())
		}},
		{"delivery", deliveryJSON, func(e Event) (any, error) { return e.Delivery() }, func(t *testing.T, v any) {
			d := v.(*Delivery)
			require.Equal(t, "evt_1", d.EventID)
			require.Zero(t, d.LastStatusCode)
			require.Equal(t, "timeout", d.LastErrorClass)
			require.True(t, d.NextAttemptAt.IsZero())
			require.Nil(t, d.Attempts)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			v, err := tt.decode(event("any.type", tt.json))
			require.NoError(t, err)
			tt.check(t, v)
			b, err := json.Marshal(v)
			require.NoError(t, err)
			require.JSONEq(t, tt.json, string(b), "marshalled back to the API's JSON, nulls included")
		})
	}
}

func TestEventDecodeChecksTheKind(t *testing.T) {
	t.Parallel()

	charge := event(TypeChargeSucceeded, succeededChargeJSON)
	_, err := charge.Session()
	require.ErrorIs(t, err, ErrUnexpectedObject)
	require.ErrorContains(t, err, `carries "charge", not "checkout.session"`)
	for name, decode := range map[string]func(Event) error{
		"Charge":   func(e Event) error { _, err := e.Charge(); return err },
		"Endpoint": func(e Event) error { _, err := e.Endpoint(); return err },
		"Delivery": func(e Event) error { _, err := e.Delivery(); return err },
		"Ping":     func(e Event) error { _, err := e.Ping(); return err },
	} {
		require.ErrorIs(t, decode(event(TypeCheckoutSessionCompleted, sessionJSON)), ErrUnexpectedObject, name)
	}

	_, err = event(TypeCheckoutSessionCompleted, `[1]`).Session()
	require.ErrorContains(t, err, "webhook: decode the object of checkout.session.completed evt_9")
	require.NotErrorIs(t, err, ErrUnexpectedObject)

	ping, err := event(TypeTestPing, endpointJSON).Ping()
	require.NoError(t, err)
	require.Equal(t, "we_1", ping.ID, "a ping carries the endpoint tested")
	_, err = event(TypeTestPing, sessionJSON).Ping()
	require.ErrorIs(t, err, ErrUnexpectedObject)

	// DecodeObject takes any shape, for objects without a method.
	type custom struct {
		ID string `json:"id"`
	}
	v, err := DecodeObject[custom](charge)
	require.NoError(t, err)
	require.Equal(t, "ch_1", v.ID)
}
