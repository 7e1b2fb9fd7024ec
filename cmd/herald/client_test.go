package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/webhook"
)

// requireMirrors checks that obj, an SDK object decoded from the API,
// marshals back to exactly what Herald answers at path: every field the
// server sends has its place in the SDK's types, nulls included, so the two
// cannot drift apart unnoticed.
func requireMirrors(t *testing.T, ts *testServer, key, path string, obj any) {
	t.Helper()
	r := ts.call(t, http.MethodGet, path, key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	requireSameJSON(t, r.Raw, obj)
}

func requireSameJSON(t *testing.T, raw string, obj any) {
	t.Helper()
	b, err := json.Marshal(obj)
	require.NoError(t, err)
	require.JSONEq(t, raw, string(b), "the SDK's %T does not mirror the API's JSON", obj)
}

// The public Go client against a real Herald: sessions and endpoints, with
// idempotency, iterators and typed errors.
func TestClientAgainstHerald(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	c := client.New(ts.URL(), key)

	params := client.CreateSessionParams{
		LineItems:         []client.LineItemParams{{Name: "Pen", UnitAmount: 250, Quantity: 4}},
		Currency:          "usd",
		SuccessURL:        "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}",
		CancelURL:         "https://shop.test/cart",
		ClientReferenceID: "order-7",
		Metadata:          map[string]string{"order_id": "7"},
	}
	s, err := c.Sessions.Create(ctx, params, client.WithIdempotencyKey("order-7"))
	require.NoError(t, err)
	require.Equal(t, int64(1000), s.AmountTotal)
	require.Equal(t, ts.URL()+"/pay/"+s.ID, s.URL)
	require.Equal(t, "order-7", s.ClientReferenceID)
	require.WithinDuration(t, time.Now().Add(time.Hour), s.ExpiresAt, time.Minute)
	requireMirrors(t, ts, key, "/v1/checkout/sessions/"+s.ID, s)

	again, err := c.Sessions.Create(ctx, params, client.WithIdempotencyKey("order-7"))
	require.NoError(t, err)
	require.Equal(t, s.ID, again.ID, "the idempotency key replays the first answer")

	got, err := c.Sessions.Get(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.SessionStatusOpen, got.Status)

	// Two more sessions, then the iterator over pages of one.
	var created []string
	for range 2 {
		more, err := c.Sessions.Create(ctx, params)
		require.NoError(t, err)
		created = append(created, more.ID)
	}
	var listed []string
	for sess, err := range c.Sessions.List(ctx, client.ListParams{Limit: 1}) {
		require.NoError(t, err)
		listed = append(listed, sess.ID)
	}
	// Sessions made in the same second come in id order.
	require.ElementsMatch(t, []string{created[1], created[0], s.ID}, listed, "every session, across three pages")
	page, err := c.Sessions.Page(ctx, client.ListParams{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page.Data, 2)
	require.True(t, page.HasMore)

	expired, err := c.Sessions.Expire(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.SessionStatusExpired, expired.Status)
	require.Empty(t, expired.URL, "an expired session has no payment page (null on the wire)")
	requireMirrors(t, ts, key, "/v1/checkout/sessions/"+s.ID, expired)

	_, err = c.Sessions.Get(ctx, "cs_nope")
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	require.Equal(t, "resource_missing", apiErr.Code)
	require.NotEmpty(t, apiErr.RequestID)

	bad := params
	bad.Currency = "xyz"
	_, err = c.Sessions.Create(ctx, bad)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "currency", apiErr.Param)

	_, err = client.New(ts.URL(), "sk_test_wrong").Sessions.Get(ctx, s.ID)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, client.ErrorTypeAuthentication, apiErr.Type)

	e, err := c.Endpoints.Create(ctx, client.EndpointParams{URL: client.String("https://shop.test/hooks"), EnabledEvents: []string{client.EventAll}})
	require.NoError(t, err)
	require.NotEmpty(t, e.Secret)
	e, err = c.Endpoints.Update(ctx, e.ID, client.EndpointParams{Paused: client.Bool(true)})
	require.NoError(t, err)
	require.True(t, e.Paused)
	requireMirrors(t, ts, key, "/v1/webhook_endpoints/"+e.ID, e)
	rolled, err := c.Endpoints.RollSecret(ctx, e.ID, time.Hour)
	require.NoError(t, err)
	require.NotEmpty(t, rolled.Secret)
	require.NotEqual(t, e.Secret, rolled.Secret)
	var endpoints []string
	for ep, err := range c.Endpoints.List(ctx, client.ListParams{}) {
		require.NoError(t, err)
		endpoints = append(endpoints, ep.ID)
	}
	require.Equal(t, []string{e.ID}, endpoints)
	require.NoError(t, c.Endpoints.Delete(ctx, e.ID))
	_, err = c.Endpoints.Get(ctx, e.ID)
	require.True(t, errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound)

	// Another merchant's objects are not found through the client either.
	_, otherKey := ts.newMerchant(t, "Other")
	_, err = client.New(ts.URL(), otherKey).Sessions.Get(ctx, s.ID)
	require.True(t, errors.Is(err, &client.Error{StatusCode: http.StatusNotFound}), "%v", err)
}

// lockedReceiver is a merchant's webhook endpoint built on the SDK's
// receiver, whose handler is set once the endpoint's secret is known.
type lockedReceiver struct {
	srv     *httptest.Server
	handler atomic.Pointer[receiver.Handler]
}

func newLockedReceiver(t *testing.T) *lockedReceiver {
	t.Helper()
	lr := &lockedReceiver{}
	lr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := lr.handler.Load()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(lr.srv.Close)
	return lr
}

// Events, deliveries, attempts and redrives through the client, and every
// event type's payload decoded by the SDK's typed methods in a receiver:
// the session a webhook brings is the session the success page retrieves.
func TestClientEventsAndDeliveries(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	// A failed delivery takes two attempts 50ms apart.
	ts := startServer(t, func(c *Config) { c.RetrySchedule = []time.Duration{50 * time.Millisecond} })
	_, key := ts.newMerchant(t, "Acme")
	c := client.New(ts.URL(), key)

	// Endpoint A fails every delivery until told otherwise.
	var aFails atomic.Bool
	aFails.Store(true)
	a := newSink(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if aFails.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	endpointA, err := c.Endpoints.Create(ctx, client.EndpointParams{URL: client.String(a.URL + "/hooks"),
		EnabledEvents: []string{webhook.TypeCheckoutSessionCompleted}})
	require.NoError(t, err)

	// Endpoint B is a receiver subscribed to everything, decoding each
	// event's object with the method for its type.
	b := newLockedReceiver(t)
	endpointB, err := c.Endpoints.Create(ctx, client.EndpointParams{URL: client.String(b.srv.URL + "/hooks"),
		EnabledEvents: []string{client.EventAll}})
	require.NoError(t, err)
	var mu sync.Mutex
	received := map[string][]any{} // event type → decoded objects
	var fromWebhook *webhook.CheckoutSession
	webhookFulfiller := receiver.NewFulfiller(receiver.NewMemoryStore(), func(_ context.Context, s *webhook.CheckoutSession, via string) error {
		if via != receiver.ViaWebhook {
			return errors.New("fulfilled via " + via)
		}
		mu.Lock()
		defer mu.Unlock()
		fromWebhook = s
		return nil
	})
	h, err := receiver.NewHandler(receiver.NewMemoryStore(), endpointB.Secret)
	require.NoError(t, err)
	record := func(decode func(webhook.Event) (any, error)) receiver.EventFunc {
		return func(ctx context.Context, ev webhook.Event) error {
			obj, err := decode(ev)
			if err != nil {
				return err
			}
			mu.Lock()
			received[ev.Type] = append(received[ev.Type], obj)
			mu.Unlock()
			if ev.Type == webhook.TypeCheckoutSessionCompleted {
				return webhookFulfiller.HandleCompleted(ctx, ev)
			}
			return nil
		}
	}
	h.On(webhook.TypeCheckoutSessionCompleted, record(func(ev webhook.Event) (any, error) { return ev.Session() }))
	h.On(webhook.TypeChargeSucceeded, record(func(ev webhook.Event) (any, error) { return ev.Charge() }))
	h.On(webhook.TypeChargeFailed, record(func(ev webhook.Event) (any, error) { return ev.Charge() }))
	h.On(webhook.TypeDeliveryFailed, record(func(ev webhook.Event) (any, error) { return ev.Delivery() }))
	h.On(webhook.TypeWebhookEndpointDisabled, record(func(ev webhook.Event) (any, error) { return ev.Endpoint() }))
	b.handler.Store(h)
	receivedOf := func(typ string) []any {
		mu.Lock()
		defer mu.Unlock()
		return append([]any(nil), received[typ]...)
	}

	// A paid session: charge.succeeded and checkout.session.completed.
	f := &deliveryFixture{ts: ts, key: key}
	sessionID := f.pay(t)

	// The success page: what the client retrieves goes to Fulfil as it is,
	// and is the session the webhook brought, field for field.
	var fromPage *webhook.CheckoutSession
	pageFulfiller := receiver.NewFulfiller(receiver.NewMemoryStore(), func(_ context.Context, s *webhook.CheckoutSession, _ string) error {
		fromPage = s
		return nil
	})
	retrieved, err := c.Sessions.Get(ctx, sessionID)
	require.NoError(t, err)
	ran, err := pageFulfiller.Fulfil(ctx, retrieved, receiver.ViaSuccessPage)
	require.NoError(t, err)
	require.True(t, ran)
	waitFor(t, 20*time.Second, "the webhook's fulfilment", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return fromWebhook != nil
	})
	mu.Lock()
	require.Equal(t, fromPage, fromWebhook, "the webhook and the success page fulfil the same session")
	mu.Unlock()
	require.Equal(t, int64(3250), fromPage.AmountTotal)
	require.NotNil(t, fromPage.Payment)

	// A's delivery fails twice and is done: delivery.failed reaches B.
	waitFor(t, 20*time.Second, "delivery.failed at endpoint B", func() bool { return len(receivedOf(webhook.TypeDeliveryFailed)) == 1 })
	failedObj := receivedOf(webhook.TypeDeliveryFailed)[0].(*webhook.Delivery)
	require.Equal(t, endpointA.ID, failedObj.EndpointID)
	require.Equal(t, webhook.DeliveryStatusFailed, failedObj.Status)
	require.Equal(t, 500, failedObj.LastStatusCode)
	charge := receivedOf(webhook.TypeChargeSucceeded)[0].(*webhook.Charge)
	require.Equal(t, sessionID, charge.CheckoutSessionID)
	require.True(t, charge.Paid)
	require.Equal(t, "4242", charge.PaymentMethodDetails.Card.Last4)
	require.Equal(t, "Jo", charge.BillingDetails.Name)

	// Deliveries, through the iterator with a filter, and one with its
	// attempts.
	var toA []*client.Delivery
	for d, err := range c.Deliveries.List(ctx, client.DeliveryListParams{EndpointID: endpointA.ID, Limit: 1}) {
		require.NoError(t, err)
		toA = append(toA, d)
	}
	require.Len(t, toA, 1)
	require.Nil(t, toA[0].Attempts, "lists carry no attempts")
	failed, err := c.Deliveries.Get(ctx, toA[0].ID)
	require.NoError(t, err)
	require.Len(t, failed.Attempts, 2)
	require.Equal(t, 500, failed.Attempts[1].ResponseStatus)
	require.Equal(t, webhook.TriggerRetry, failed.Attempts[1].Trigger)
	require.Equal(t, failed.EventID, failed.Attempts[0].RequestHeaders["Webhook-Id"])
	requireMirrors(t, ts, key, "/v1/deliveries/"+failed.ID, failed)

	// Disabled through the API: webhook_endpoint.disabled reaches B, and
	// a redrive to A is refused with a typed error.
	_, err = c.Endpoints.Update(ctx, endpointA.ID, client.EndpointParams{Status: client.String(webhook.EndpointStatusDisabled)})
	require.NoError(t, err)
	waitFor(t, 20*time.Second, "webhook_endpoint.disabled at endpoint B", func() bool {
		return len(receivedOf(webhook.TypeWebhookEndpointDisabled)) == 1
	})
	disabled := receivedOf(webhook.TypeWebhookEndpointDisabled)[0].(*webhook.WebhookEndpoint)
	require.Equal(t, endpointA.ID, disabled.ID)
	require.Equal(t, webhook.EndpointStatusDisabled, disabled.Status)
	require.NotEmpty(t, disabled.DisabledReason)
	_, err = c.Deliveries.Redrive(ctx, failed.ID)
	require.True(t, errors.Is(err, &client.Error{StatusCode: http.StatusConflict, Code: "endpoint_disabled"}), "%v", err)

	// Events: every type B received is listed, each decodes with its
	// method and mirrors the API; the type filter keeps one type.
	types := map[string]int{}
	for ev, err := range c.Events.List(ctx, client.EventListParams{Limit: 2}) {
		require.NoError(t, err)
		types[ev.Type]++
		requireMirrors(t, ts, key, "/v1/events/"+ev.ID, ev)
		var obj any
		switch ev.Type {
		case webhook.TypeCheckoutSessionCompleted:
			obj, err = ev.Session()
		case webhook.TypeChargeSucceeded, webhook.TypeChargeFailed:
			obj, err = ev.Charge()
		case webhook.TypeDeliveryFailed:
			obj, err = ev.Delivery()
		case webhook.TypeWebhookEndpointDisabled:
			obj, err = ev.Endpoint()
		default:
			t.Fatalf("unexpected event type %s", ev.Type)
		}
		require.NoError(t, err, ev.Type)
		requireSameJSON(t, string(ev.Data.Object), obj)
		_, err = ev.Ping()
		require.ErrorIs(t, err, webhook.ErrUnexpectedObject)
	}
	require.Equal(t, map[string]int{webhook.TypeChargeSucceeded: 1, webhook.TypeCheckoutSessionCompleted: 1,
		webhook.TypeDeliveryFailed: 1, webhook.TypeWebhookEndpointDisabled: 1}, types)
	var charges []string
	for ev, err := range c.Events.List(ctx, client.EventListParams{Type: webhook.TypeChargeSucceeded}) {
		require.NoError(t, err)
		charges = append(charges, ev.ID)
	}
	require.Len(t, charges, 1)
	ev, err := c.Events.Get(ctx, charges[0])
	require.NoError(t, err)
	gotCharge, err := ev.Charge()
	require.NoError(t, err)
	require.Equal(t, charge, gotCharge, "the event from the API is the one delivered")

	// Re-enabled and answering: a dry run counts what failed, the redrive
	// sends it, and a finished redrive cannot be canceled.
	aFails.Store(false)
	_, err = c.Endpoints.Update(ctx, endpointA.ID, client.EndpointParams{Status: client.String(webhook.EndpointStatusEnabled)})
	require.NoError(t, err)
	dry, err := c.Redrives.Create(ctx, client.RedriveParams{EndpointID: endpointA.ID, DryRun: true})
	require.NoError(t, err)
	require.Equal(t, 1, dry.Matched)
	require.Empty(t, dry.ID)
	require.Equal(t, webhook.DeliveryStatusFailed, dry.Filter.Status, "Herald's default")
	rd, err := c.Redrives.Create(ctx, client.RedriveParams{EndpointID: endpointA.ID, Status: webhook.DeliveryStatusFailed})
	require.NoError(t, err)
	require.NotEmpty(t, rd.ID)
	waitFor(t, 20*time.Second, "the redrive to complete", func() bool {
		rd, err = c.Redrives.Get(ctx, rd.ID)
		require.NoError(t, err)
		return rd.Status == client.RedriveStatusCompleted
	})
	require.Equal(t, 1, rd.Enqueued)
	requireMirrors(t, ts, key, "/v1/redrives/"+rd.ID, rd)
	_, err = c.Redrives.Cancel(ctx, rd.ID)
	require.True(t, errors.Is(err, &client.Error{StatusCode: http.StatusConflict, Code: "redrive_finished"}), "%v", err)
	waitFor(t, 20*time.Second, "the redriven delivery to succeed", func() bool {
		d, err := c.Deliveries.Get(ctx, failed.ID)
		require.NoError(t, err)
		return d.Status == webhook.DeliveryStatusSucceeded
	})
	require.Len(t, a.Requests(), 3, "two failed attempts, then the redrive's")

	// A single redrive sends B's delivery of the session again, with the
	// same webhook-id: the receiver answers it as a duplicate.
	var toB *client.Delivery
	for d, err := range c.Deliveries.List(ctx, client.DeliveryListParams{EndpointID: endpointB.ID, Status: webhook.DeliveryStatusSucceeded}) {
		require.NoError(t, err)
		if d.EventType == webhook.TypeCheckoutSessionCompleted {
			toB = d
		}
	}
	require.NotNil(t, toB)
	again, err := c.Deliveries.Redrive(ctx, toB.ID)
	require.NoError(t, err)
	require.Equal(t, toB.ID, again.ID)
	waitFor(t, 20*time.Second, "the redriven delivery to B", func() bool {
		d, err := c.Deliveries.Get(ctx, toB.ID)
		require.NoError(t, err)
		return d.Status == webhook.DeliveryStatusSucceeded && len(d.Attempts) == 2
	})
	d, err := c.Deliveries.Get(ctx, toB.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.TriggerRedrive, d.Attempts[1].Trigger)
	require.Equal(t, "duplicate: already processed\n", d.Attempts[1].ResponseBody)
	require.Len(t, receivedOf(webhook.TypeCheckoutSessionCompleted), 1)
}

// API keys through the client: the list never shows a key, a roll shows
// the new one once and the old one works until its overlap ends, a
// revoked key fails at once, and the last key that does not expire cannot
// be revoked. Another merchant's key ids are not found.
func TestClientAPIKeys(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	_, otherKey := ts.newMerchant(t, "Other")
	c := client.New(ts.URL(), key)

	var keys []*client.APIKey
	for k, err := range c.APIKeys.List(ctx, client.ListParams{}) {
		require.NoError(t, err)
		keys = append(keys, k)
	}
	require.Len(t, keys, 1)
	first := keys[0]
	require.Equal(t, webhook.APIKeyStatusActive, first.Status)
	require.Empty(t, first.Secret, "a listed key is never shown")
	require.Equal(t, "sk_test_…"+key[len(key)-4:], first.Hint, "the hint is the key's prefix and last four characters")
	requireMirrors(t, ts, key, "/v1/api_keys", &client.List[client.APIKey]{Object: "list", Data: []client.APIKey{*first}})

	_, err := c.APIKeys.Revoke(ctx, first.ID)
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusConflict, apiErr.StatusCode)
	require.Equal(t, "last_active_api_key", apiErr.Code)

	rolled, err := c.APIKeys.Roll(ctx, time.Hour)
	require.NoError(t, err)
	require.NotEmpty(t, rolled.Secret, "the new key is shown once")
	require.NotEqual(t, key, rolled.Secret)
	require.NotNil(t, rolled.Previous)
	require.Equal(t, first.ID, rolled.Previous.ID)
	require.Equal(t, webhook.APIKeyStatusExpiring, rolled.Previous.Status)
	require.WithinDuration(t, time.Now().Add(time.Hour), rolled.Previous.ExpiresAt, time.Minute)

	// Both keys work during the overlap; the new one lists both.
	fresh := client.New(ts.URL(), rolled.Secret)
	page, err := fresh.APIKeys.Page(ctx, client.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Len(t, page.Data, 1)
	require.True(t, page.HasMore)
	require.Equal(t, rolled.ID, page.Data[0].ID, "newest first")
	_, err = c.Sessions.Page(ctx, client.ListParams{})
	require.NoError(t, err, "the rolled key works until it expires")

	// Another merchant cannot revoke this merchant's key.
	_, err = client.New(ts.URL(), otherKey).APIKeys.Revoke(ctx, first.ID)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	revoked, err := fresh.APIKeys.Revoke(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.APIKeyStatusRevoked, revoked.Status)
	require.False(t, revoked.RevokedAt.IsZero())
	_, err = c.Sessions.Page(ctx, client.ListParams{})
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode, "a revoked key fails at once")
}

// The endpoint test call and portal links through the client: the ping
// reaches that endpoint signed, its typed payload is the endpoint, its
// delivery is followed to success; a portal link opens the portal; other
// merchants' endpoints are not found.
func TestClientTestPingAndPortal(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newDeliveryFixture(t, nil)
	c := client.New(f.ts.URL(), f.key)

	d, err := c.Endpoints.Test(ctx, f.endpointID())
	require.NoError(t, err)
	require.Equal(t, webhook.TypeTestPing, d.EventType)
	require.Equal(t, f.endpointID(), d.EndpointID)
	req := f.sink.Wait(t, 1)[0]
	v, err := webhook.NewVerifier(f.endpoint["secret"].(string))
	require.NoError(t, err)
	require.NoError(t, v.Verify(req.Header, req.Body))
	var ev webhook.Event
	require.NoError(t, json.Unmarshal(req.Body, &ev))
	ping, err := ev.Ping()
	require.NoError(t, err)
	require.Equal(t, f.endpointID(), ping.ID, "a ping carries the endpoint tested")
	require.Empty(t, ping.Secret, "never its secret")
	waitFor(t, 10*time.Second, "the ping's delivery succeeded", func() bool {
		got, err := c.Deliveries.Get(ctx, d.ID)
		require.NoError(t, err)
		return got.Status == webhook.DeliveryStatusSucceeded
	})

	_, otherKey := f.ts.newMerchant(t, "Other")
	_, err = client.New(f.ts.URL(), otherKey).Endpoints.Test(ctx, f.endpointID())
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	link, err := c.PortalSessions.Create(ctx)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(link.URL, f.ts.URL()+"/"), link.URL)
	require.WithinDuration(t, time.Now().Add(time.Hour), link.ExpiresAt, time.Minute)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Jar: jar}).Get(link.URL) // the link signs a browser in with a cookie
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, resp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(page), f.endpointID(), "the portal shows the merchant's endpoint")
}

// The event stream through the client: events arrive as they commit,
// filtered by type, and a new stream with LastEventID resumes after the
// last one handled, losing and repeating nothing.
func TestClientEventStream(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	c := client.New(f.ts.URL(), f.key)

	// next reads one event from a stream running in its own goroutine.
	type item struct {
		ev  *client.Event
		err error
	}
	open := func(params client.StreamParams) (<-chan item, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan item)
		go func() {
			defer close(out)
			for ev, err := range c.Events.Stream(ctx, params) {
				select {
				case out <- item{ev, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
		t.Cleanup(cancel)
		return out, cancel
	}
	next := func(ch <-chan item) *client.Event {
		t.Helper()
		select {
		case it, ok := <-ch:
			require.True(t, ok, "the stream ended")
			require.NoError(t, it.err)
			return it.ev
		case <-time.After(15 * time.Second):
			t.Fatal("no event within 15 s")
			return nil
		}
	}

	// A payment before the stream, to resume after: its completion event.
	f.pay(t)
	var before *client.Event
	for ev, err := range c.Events.List(context.Background(), client.EventListParams{Type: webhook.TypeCheckoutSessionCompleted}) {
		require.NoError(t, err)
		before = ev
	}
	require.NotNil(t, before)
	completed, stop := open(client.StreamParams{Types: []string{webhook.TypeCheckoutSessionCompleted}, LastEventID: before.ID})
	first := f.pay(t)
	ev := next(completed)
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, ev.Type, "only the type asked for")
	s, err := ev.Session()
	require.NoError(t, err)
	require.Equal(t, first, s.ID)
	stop()

	// Two more payments while no stream is open; resuming after the first
	// event brings exactly their two completions, in order.
	second, third := f.pay(t), f.pay(t)
	resumed, _ := open(client.StreamParams{Types: []string{webhook.TypeCheckoutSessionCompleted}, LastEventID: ev.ID})
	for _, want := range []string{second, third} {
		s, err := next(resumed).Session()
		require.NoError(t, err)
		require.Equal(t, want, s.ID)
	}

	// A refused stream is an *Error, yielded once.
	var refusals []error
	for _, err := range client.New(f.ts.URL(), "sk_test_nope").Events.Stream(context.Background(), client.StreamParams{}) {
		refusals = append(refusals, err)
	}
	require.Len(t, refusals, 1)
	var apiErr *client.Error
	require.ErrorAs(t, refusals[0], &apiErr)
	require.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
}
