package client

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/webhook"
)

var randomKey = regexp.MustCompile(`^[0-9a-f]{32}$`)

// fullSessionJSON is the body of the README's curl example.
const fullSessionJSON = `{
	"line_items": [
		{"name": "Notebook", "unit_amount": 1500, "quantity": 2, "image_url": "https://example.com/notebook.png"},
		{"name": "Pen", "unit_amount": 250, "quantity": 1}
	],
	"currency": "usd",
	"success_url": "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
	"cancel_url": "https://example.com/cart",
	"customer_email": "jo@example.com",
	"client_reference_id": "order-1001",
	"metadata": {"order_id": "1001"},
	"expires_in": 1800
}`

func TestRequestShape(t *testing.T) {
	t.Parallel()

	fullSession := CreateSessionParams{
		LineItems: []LineItemParams{
			{Name: "Notebook", UnitAmount: 1500, Quantity: 2, ImageURL: "https://example.com/notebook.png"},
			{Name: "Pen", UnitAmount: 250, Quantity: 1},
		},
		Currency:          "usd",
		SuccessURL:        "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
		CancelURL:         "https://example.com/cart",
		CustomerEmail:     "jo@example.com",
		ClientReferenceID: "order-1001",
		Metadata:          map[string]string{"order_id": "1001"},
		ExpiresIn:         1800,
	}
	for _, tt := range []struct {
		name   string
		answer string
		call   func(context.Context, *Client) error
		method string
		path   string
		query  string
		body   string // expected JSON; "" for no body
		// key is the expected Idempotency-Key: "" for none, "random" for a
		// generated one.
		key string
	}{
		{
			name: "create session, every field", answer: openSessionJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Sessions.Create(ctx, fullSession); return err },
			method: http.MethodPost, path: "/v1/checkout/sessions", key: "random",
			body: fullSessionJSON,
		},
		{
			name: "create session, optional fields left out", answer: openSessionJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Sessions.Create(ctx, CreateSessionParams{
					LineItems: []LineItemParams{{Name: "Sticker", UnitAmount: 0, Quantity: 1}},
					Currency:  "usd", SuccessURL: "https://example.com/ok", CancelURL: "https://example.com/cart",
				})
				return err
			},
			method: http.MethodPost, path: "/v1/checkout/sessions", key: "random",
			body: `{"line_items":[{"name":"Sticker","unit_amount":0,"quantity":1}],"currency":"usd",
				"success_url":"https://example.com/ok","cancel_url":"https://example.com/cart"}`,
		},
		{
			name: "create session, caller's idempotency key", answer: openSessionJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Sessions.Create(ctx, fullSession, WithIdempotencyKey("order-1001"))
				return err
			},
			method: http.MethodPost, path: "/v1/checkout/sessions", key: "order-1001",
			body: fullSessionJSON,
		},
		{
			name: "get session", answer: openSessionJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Sessions.Get(ctx, "cs_Wq3abc"); return err },
			method: http.MethodGet, path: "/v1/checkout/sessions/cs_Wq3abc",
		},
		{
			name: "get session escapes the id", answer: openSessionJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Sessions.Get(ctx, "cs_1/../x?y"); return err },
			method: http.MethodGet, path: "/v1/checkout/sessions/cs_1%2F..%2Fx%3Fy",
		},
		{
			name: "list sessions, first page", answer: listJSON(false),
			call:   func(ctx context.Context, c *Client) error { _, err := c.Sessions.Page(ctx, ListParams{}); return err },
			method: http.MethodGet, path: "/v1/checkout/sessions",
		},
		{
			name: "list sessions, next page", answer: listJSON(false),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Sessions.Page(ctx, ListParams{Limit: 2, StartingAfter: "cs_Wq3abc"})
				return err
			},
			method: http.MethodGet, path: "/v1/checkout/sessions", query: "limit=2&starting_after=cs_Wq3abc",
		},
		{
			name: "expire session", answer: completeSessionJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Sessions.Expire(ctx, "cs_Wq3abc"); return err },
			method: http.MethodPost, path: "/v1/checkout/sessions/cs_Wq3abc/expire", key: "random",
		},
		{
			name: "create endpoint", answer: createdEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.Create(ctx, EndpointParams{URL: String("https://example.com/webhooks"),
					EnabledEvents: []string{webhook.TypeCheckoutSessionCompleted}, Description: String("fulfilment")})
				return err
			},
			method: http.MethodPost, path: "/v1/webhook_endpoints", key: "random",
			body: `{"url": "https://example.com/webhooks", "enabled_events": ["checkout.session.completed"], "description": "fulfilment"}`,
		},
		{
			name: "get endpoint", answer: disabledEndpointJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Endpoints.Get(ctx, "we_7Kp"); return err },
			method: http.MethodGet, path: "/v1/webhook_endpoints/we_7Kp",
		},
		{
			name: "list endpoints", answer: listJSON(true, disabledEndpointJSON),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.Page(ctx, ListParams{Limit: 1})
				return err
			},
			method: http.MethodGet, path: "/v1/webhook_endpoints", query: "limit=1",
		},
		{
			name: "pause endpoint", answer: disabledEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.Update(ctx, "we_7Kp", EndpointParams{Paused: Bool(true)})
				return err
			},
			method: http.MethodPatch, path: "/v1/webhook_endpoints/we_7Kp", body: `{"paused": true}`,
		},
		{
			name: "resume endpoint sends false", answer: disabledEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.Update(ctx, "we_7Kp", EndpointParams{Paused: Bool(false)})
				return err
			},
			method: http.MethodPatch, path: "/v1/webhook_endpoints/we_7Kp", body: `{"paused": false}`,
		},
		{
			name: "re-enable endpoint for all events", answer: disabledEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.Update(ctx, "we_7Kp", EndpointParams{EnabledEvents: []string{EventAll},
					Status: String(webhook.EndpointStatusEnabled)})
				return err
			},
			method: http.MethodPatch, path: "/v1/webhook_endpoints/we_7Kp", body: `{"enabled_events": ["*"], "status": "enabled"}`,
		},
		{
			name: "clear description, with a key", answer: disabledEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.Update(ctx, "we_7Kp", EndpointParams{Description: String("")}, WithIdempotencyKey("upd-1"))
				return err
			},
			method: http.MethodPatch, path: "/v1/webhook_endpoints/we_7Kp", body: `{"description": ""}`, key: "upd-1",
		},
		{
			name: "delete endpoint", answer: deletedEndpointJSON,
			call:   func(ctx context.Context, c *Client) error { return c.Endpoints.Delete(ctx, "we_7Kp") },
			method: http.MethodDelete, path: "/v1/webhook_endpoints/we_7Kp",
		},
		{
			name: "roll secret, whole seconds", answer: createdEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.RollSecret(ctx, "we_7Kp", time.Hour+1500*time.Millisecond)
				return err
			},
			method: http.MethodPost, path: "/v1/webhook_endpoints/we_7Kp/roll_secret", key: "random",
			body: `{"expire_previous_in": 3601}`,
		},
		{
			name: "roll secret, old one retired at once", answer: createdEndpointJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Endpoints.RollSecret(ctx, "we_7Kp", 0)
				return err
			},
			method: http.MethodPost, path: "/v1/webhook_endpoints/we_7Kp/roll_secret", key: "random",
			body: `{"expire_previous_in": 0}`,
		},
		{
			name: "get event", answer: eventJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Events.Get(ctx, "evt_5Tq"); return err },
			method: http.MethodGet, path: "/v1/events/evt_5Tq",
		},
		{
			name: "list events, every filter", answer: listJSON(false, eventJSON),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Events.Page(ctx, EventListParams{Limit: 100, EndingBefore: "evt_1", Type: webhook.TypeChargeFailed,
					CreatedGTE: created, CreatedLT: created.Add(time.Hour + 500*time.Millisecond), DeliverySuccess: Bool(false)})
				return err
			},
			method: http.MethodGet, path: "/v1/events",
			query: "created%5Bgte%5D=1795608000&created%5Blt%5D=1795611600&delivery_success=false&ending_before=evt_1&limit=100&type=charge.failed",
		},
		{
			name: "list events, next page", answer: listJSON(false),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Events.Page(ctx, EventListParams{StartingAfter: "evt_9"})
				return err
			},
			method: http.MethodGet, path: "/v1/events", query: "starting_after=evt_9",
		},
		{
			name: "get delivery", answer: failedDeliveryJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Deliveries.Get(ctx, "dlv_3Rz"); return err },
			method: http.MethodGet, path: "/v1/deliveries/dlv_3Rz",
		},
		{
			name: "list deliveries, every filter", answer: listJSON(false),
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Deliveries.Page(ctx, DeliveryListParams{Limit: 5, StartingAfter: "dlv_1", EndpointID: "we_7Kp",
					EventID: "evt_5Tq", Status: webhook.DeliveryStatusFailed})
				return err
			},
			method: http.MethodGet, path: "/v1/deliveries",
			query: "endpoint_id=we_7Kp&event_id=evt_5Tq&limit=5&starting_after=dlv_1&status=failed",
		},
		{
			name: "redrive one delivery", answer: pendingDeliveryJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Deliveries.Redrive(ctx, "dlv_3Rz"); return err },
			method: http.MethodPost, path: "/v1/deliveries/dlv_3Rz/redrive", key: "random",
		},
		{
			name: "bulk redrive, every filter", answer: redriveJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Redrives.Create(ctx, RedriveParams{EndpointID: "we_7Kp", Status: webhook.DeliveryStatusSkipped,
					EventType: webhook.TypeCheckoutSessionCompleted, Since: created, Until: created.Add(time.Hour)},
					WithIdempotencyKey("send-missed-1"))
				return err
			},
			method: http.MethodPost, path: "/v1/redrives", key: "send-missed-1",
			body: `{"endpoint_id":"we_7Kp","status":"skipped","event_type":"checkout.session.completed","since":1795608000,"until":1795611600}`,
		},
		{
			name: "bulk redrive, dry run of the defaults", answer: dryRunJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Redrives.Create(ctx, RedriveParams{DryRun: true})
				return err
			},
			method: http.MethodPost, path: "/v1/redrives", key: "random", body: `{"dry_run":true}`,
		},
		{
			name: "get redrive", answer: redriveJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Redrives.Get(ctx, "rdr_8Mn"); return err },
			method: http.MethodGet, path: "/v1/redrives/rdr_8Mn",
		},
		{
			name: "cancel redrive", answer: redriveJSON,
			call:   func(ctx context.Context, c *Client) error { _, err := c.Redrives.Cancel(ctx, "rdr_8Mn"); return err },
			method: http.MethodPost, path: "/v1/redrives/rdr_8Mn/cancel", key: "random",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, answer{body: tt.answer})
			require.NoError(t, tt.call(testContext(t), f.client()))

			reqs := f.received()
			require.Len(t, reqs, 1)
			r := reqs[0]
			require.Equal(t, tt.method, r.method)
			require.Equal(t, tt.path, r.path)
			require.Equal(t, tt.query, r.query)
			require.Equal(t, "Bearer "+testKey, r.header.Get("Authorization"))
			require.Equal(t, DefaultUserAgent, r.header.Get("User-Agent"))
			require.Equal(t, "application/json", r.header.Get("Accept"))
			if tt.body == "" {
				require.Empty(t, r.body)
				require.Empty(t, r.header.Get("Content-Type"))
			} else {
				require.JSONEq(t, tt.body, string(r.body))
				require.Equal(t, "application/json", r.header.Get("Content-Type"))
			}
			switch tt.key {
			case "":
				require.NotContains(t, r.header, "Idempotency-Key")
			case "random":
				require.Regexp(t, randomKey, r.header.Get("Idempotency-Key"))
			default:
				require.Equal(t, tt.key, r.header.Get("Idempotency-Key"))
			}
		})
	}
}

func TestIdempotencyKeysDifferPerRequest(t *testing.T) {
	t.Parallel()

	f := newFakeHerald(t, answer{body: openSessionJSON})
	c := f.client()
	for range 2 {
		_, err := c.Sessions.Expire(testContext(t), "cs_Wq3abc")
		require.NoError(t, err)
	}
	reqs := f.received()
	require.Len(t, reqs, 2)
	require.NotEqual(t, reqs[0].header.Get("Idempotency-Key"), reqs[1].header.Get("Idempotency-Key"),
		"two calls are two requests; only retries of one call share a key")
}

func TestOptions(t *testing.T) {
	t.Parallel()

	t.Run("user agent", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: openSessionJSON})
		_, err := f.client(WithUserAgent("acme-shop/2.1")).Sessions.Get(testContext(t), "cs_Wq3abc")
		require.NoError(t, err)
		require.Equal(t, "acme-shop/2.1", f.received()[0].header.Get("User-Agent"))
	})
	t.Run("http client", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: openSessionJSON})
		var used bool
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			used = true
			return http.DefaultTransport.RoundTrip(r)
		})}
		_, err := f.client(WithHTTPClient(hc)).Sessions.Get(testContext(t), "cs_Wq3abc")
		require.NoError(t, err)
		require.True(t, used)
	})
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()

		c := New("https://api.herald.example/", testKey, WithHTTPClient(nil), WithBackoff(nil), WithUserAgent(""))
		require.Equal(t, "https://api.herald.example", c.baseURL)
		require.Equal(t, DefaultTimeout, c.httpClient.Timeout)
		require.Equal(t, DefaultMaxRetries, c.maxRetries)
		require.Equal(t, DefaultUserAgent, c.userAgent)
		require.NotNil(t, c.backoff)
		require.Equal(t, 0, New("", "", WithMaxRetries(-3)).maxRetries)
	})
	t.Run("base URL with a path prefix", func(t *testing.T) {
		t.Parallel()

		f := newFakeHerald(t, answer{body: openSessionJSON})
		c := New(f.URL+"/herald/", testKey)
		_, err := c.Sessions.Get(testContext(t), "cs_Wq3abc")
		require.NoError(t, err)
		require.Equal(t, "/herald/v1/checkout/sessions/cs_Wq3abc", f.received()[0].path)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEmptyIDIsRefusedWithoutARequest(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		call func(context.Context, *Client) error
	}{
		{"get session", func(ctx context.Context, c *Client) error { _, err := c.Sessions.Get(ctx, ""); return err }},
		{"expire session", func(ctx context.Context, c *Client) error { _, err := c.Sessions.Expire(ctx, ""); return err }},
		{"get endpoint", func(ctx context.Context, c *Client) error { _, err := c.Endpoints.Get(ctx, ""); return err }},
		{"update endpoint", func(ctx context.Context, c *Client) error {
			_, err := c.Endpoints.Update(ctx, "", EndpointParams{Paused: Bool(true)})
			return err
		}},
		{"delete endpoint", func(ctx context.Context, c *Client) error { return c.Endpoints.Delete(ctx, "") }},
		{"get event", func(ctx context.Context, c *Client) error { _, err := c.Events.Get(ctx, ""); return err }},
		{"get delivery", func(ctx context.Context, c *Client) error { _, err := c.Deliveries.Get(ctx, ""); return err }},
		{"redrive delivery", func(ctx context.Context, c *Client) error { _, err := c.Deliveries.Redrive(ctx, ""); return err }},
		{"get redrive", func(ctx context.Context, c *Client) error { _, err := c.Redrives.Get(ctx, ""); return err }},
		{"cancel redrive", func(ctx context.Context, c *Client) error { _, err := c.Redrives.Cancel(ctx, ""); return err }},
		{"roll secret", func(ctx context.Context, c *Client) error {
			_, err := c.Endpoints.RollSecret(ctx, "", time.Hour)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newFakeHerald(t, answer{body: "{}"})
			err := tt.call(testContext(t), f.client())
			require.ErrorContains(t, err, "id is empty")
			require.Empty(t, f.received())
		})
	}
}

func TestBadBaseURL(t *testing.T) {
	t.Parallel()

	for _, base := range []string{"", "api.herald.example", "ftp://api.herald.example", "http://[::1"} {
		t.Run(fmt.Sprintf("%q", base), func(t *testing.T) {
			t.Parallel()

			var backoffs int
			c := New(base, testKey, WithBackoff(func(int) time.Duration { backoffs++; return 0 }))
			_, err := c.Sessions.Get(testContext(t), "cs_1")
			require.Error(t, err)
			require.Zero(t, backoffs, "a request that cannot be built is not retried")
			require.NotContains(t, err.Error(), testKey)
		})
	}
}

func TestClientStringHidesKey(t *testing.T) {
	t.Parallel()

	c := New("https://api.herald.example", testKey)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		require.NotContains(t, fmt.Sprintf(format, c), testKey, format)
	}
}
