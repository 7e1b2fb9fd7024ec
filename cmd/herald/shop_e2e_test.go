package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/examples/shop"
	"github.com/heraldpay/herald/internal/browsertest"
	"github.com/heraldpay/herald/webhook"
)

// shopFixture is Herald plus the demo shop as a merchant runs it: the shop
// talks to Herald through the public client and receives its webhooks.
type shopFixture struct {
	ts         *testServer
	key        string
	shop       *shop.Shop
	url        string
	addr       string
	endpointID string
	secret     string

	mu  sync.Mutex
	srv *http.Server
}

func newShopFixture(t *testing.T, mutate ...func(*Config)) *shopFixture {
	t.Helper()
	ctx := context.Background()
	f := &shopFixture{ts: startServer(t, append([]func(*Config){func(c *Config) {
		c.RetrySchedule = []time.Duration{time.Second, time.Second, time.Second, time.Second}
	}}, mutate...)...)}
	_, f.key = f.ts.newMerchant(t, "Bellwether Goods")
	f.addr = freeAddr(t)
	f.url = "http://" + f.addr
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints", f.key, map[string]any{
		"url": f.url + "/webhooks/herald", "enabled_events": []string{webhook.TypeCheckoutSessionCompleted},
	})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	f.endpointID, f.secret = r.Body["id"].(string), r.Body["secret"].(string)
	var err error
	f.shop, err = shop.New(ctx, shop.Config{
		DB: f.ts.Pool(), Herald: client.New(f.ts.URL(), f.key), WebhookSecrets: []string{f.secret}, PublicURL: f.url,
		Logger: f.ts.logger(),
	})
	require.NoError(t, err)
	f.startShop(t)
	t.Cleanup(f.stopShop)
	return f
}

// startShop serves the shop on its address (again, after stopShop).
func (f *shopFixture) startShop(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: f.shop, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
}

// stopShop takes the shop off the network: Herald's attempts are refused.
func (f *shopFixture) stopShop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		_ = f.srv.Close()
		f.srv = nil
	}
}

// checkoutOverHTTP adds a product and checks out with a plain HTTP client,
// returning the order id and the Herald session id.
func (f *shopFixture) checkoutOverHTTP(t *testing.T) (orderID, sessionID string) {
	t.Helper()
	c := formClient(t)
	resp, err := c.PostForm(f.url+"/cart/items", map[string][]string{"product_id": {"mug"}})
	require.NoError(t, err)
	resp.Body.Close()
	resp, err = c.Post(f.url+"/checkout", "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	payURL := resp.Header.Get("Location")
	sessionID = payURL[strings.LastIndex(payURL, "/")+1:]
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(), `SELECT id FROM shop.orders WHERE session_id = $1`, sessionID).Scan(&orderID))
	return orderID, sessionID
}

// payDirectly pays a session without a browser, as if the customer closed
// it right after paying.
func (f *shopFixture) payDirectly(t *testing.T, sessionID string) {
	t.Helper()
	card, err := checkout.ParseCard(checkout.TestCardVisa, "12/40", "123", time.Now())
	require.NoError(t, err)
	res, err := f.ts.Checkout.Pay(context.Background(), checkout.PayRequest{SessionID: sessionID, Card: card, CardholderName: "Jo", Email: "jo@example.com"})
	require.NoError(t, err)
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome)
}

func (f *shopFixture) order(t *testing.T, orderID string) shop.Order {
	t.Helper()
	o, err := f.shop.FindOrder(context.Background(), orderID)
	require.NoError(t, err)
	return o
}

func (f *shopFixture) waitFulfilled(t *testing.T, orderID string) shop.Order {
	t.Helper()
	var o shop.Order
	waitFor(t, 30*time.Second, "the order to be fulfilled", func() bool {
		o = f.order(t, orderID)
		return o.Status == "fulfilled"
	})
	return o
}

// waitWebhookDelivered waits until Herald's delivery to the shop succeeded.
func (f *shopFixture) waitWebhookDelivered(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, "the webhook to be delivered", func() bool {
		r := f.ts.call(t, http.MethodGet, "/v1/deliveries?status=succeeded", f.key, nil)
		return len(r.Body["data"].([]any)) >= n
	})
}

// shopOrderID reads the order id from the shop's order page URL.
func shopOrderID(t *testing.T, loc string) string {
	t.Helper()
	i := strings.Index(loc, "/orders/")
	require.GreaterOrEqual(t, i, 0, "not an order page: %s", loc)
	return loc[i+len("/orders/"):]
}

// Browse, add to cart, pay on Herald's page, come back: the order is paid
// and fulfilled exactly once, although both the success page and the webhook
// ran.
func TestShopHappyPath(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(f.url), chromedp.WaitVisible(chromedp.CSS(`article[data-product="hoodie"]`)))
	browsertest.Screenshot(t, ctx, "shop")
	do(t, ctx, chromedp.Click(chromedp.CSS(`article[data-product="hoodie"] button`)), chromedp.WaitVisible(chromedp.ID("checkout")))
	require.Equal(t, "$45.00", get(t, ctx, chromedp.Text(chromedp.ID("cart-total"))))
	do(t, ctx, chromedp.Click(chromedp.ID("checkout")), chromedp.WaitVisible(chromedp.ID("card_number")))
	require.Equal(t, "Pay Bellwether Goods", get(t, ctx, chromedp.Title()))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS(".items"))), "Herald Hoodie")
	browsertest.Screenshot(t, ctx, "herald")

	do(t, ctx, fillAndPay("4242 4242 4242 4242", "12/34", "123"), chromedp.WaitVisible(chromedp.ID("order-status")))
	orderID := shopOrderID(t, get(t, ctx, chromedp.Location()))
	require.Equal(t, "fulfilled", get(t, ctx, chromedp.Text(chromedp.ID("order-status"))))
	require.Equal(t, "1", get(t, ctx, chromedp.Text(chromedp.ID("fulfilments"))))
	browsertest.Screenshot(t, ctx, "order")

	f.waitWebhookDelivered(t, 1)
	o := f.order(t, orderID)
	require.Equal(t, 1, o.Fulfilments, "the webhook and the success page both ran; one fulfilment")
	require.Contains(t, []string{"webhook", "success_page"}, o.FulfilledVia)
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("fulfilments")))
	require.Equal(t, "1", get(t, ctx, chromedp.Text(chromedp.ID("fulfilments"))))
}

// The customer pays and the browser never reaches the success page: the
// webhook alone fulfils the order.
func TestShopClosedBrowser(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(f.url), chromedp.Click(chromedp.CSS(`article[data-product="notebook"] button`)),
		chromedp.WaitVisible(chromedp.ID("checkout")), chromedp.Click(chromedp.ID("checkout")), chromedp.WaitVisible(chromedp.ID("card_number")))

	// From now on every request for the shop's success page fails, as if
	// the tab had been closed the moment the payment went through.
	var blocked atomic.Int32
	events := chromedp.Events(ctx, fetch.RequestPaused)
	do(t, ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: f.url + "/success*"}}})
		return err
	}))
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			blocked.Add(1)
			_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonAborted})
				return err
			}))
		}
	}()
	do(t, ctx, fillAndPay("4242 4242 4242 4242", "12/34", "123"))
	waitFor(t, 20*time.Second, "the redirect to be cut", func() bool { return blocked.Load() > 0 })

	var orderID string
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(), `SELECT id FROM shop.orders`).Scan(&orderID))
	o := f.waitFulfilled(t, orderID)
	require.Equal(t, "webhook", o.FulfilledVia)
	require.Equal(t, 1, o.Fulfilments)
}

// Declines and 3-D Secure as the shop's customer sees them.
func TestShopDeclineThenThreeDSecure(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(f.url), chromedp.Click(chromedp.CSS(`article[data-product="stickers"] button`)),
		chromedp.WaitVisible(chromedp.ID("checkout")), chromedp.Click(chromedp.ID("checkout")),
		fillAndPay("4000 0000 0000 9995", "12/34", "123"), chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	require.Equal(t, checkout.DeclineMessage(checkout.DeclineInsufficientFunds), get(t, ctx, chromedp.Text(chromedp.CSS(`[role="alert"]`))))

	do(t, ctx, fillAndPay("4000 0027 6000 3184", "12/34", "123"),
		chromedp.Click(chromedp.CSS(`button[value="authenticated"]`)), chromedp.WaitVisible(chromedp.ID("order-status")))
	require.Equal(t, "fulfilled", get(t, ctx, chromedp.Text(chromedp.ID("order-status"))))
	orderID := shopOrderID(t, get(t, ctx, chromedp.Location()))
	f.waitWebhookDelivered(t, 1)
	require.Equal(t, 1, f.order(t, orderID).Fulfilments)
}

// The webhook before the success page, the same event five times at once,
// and a redrive: still one fulfilment.
func TestShopDuplicatesAndRaces(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	orderID, sessionID := f.checkoutOverHTTP(t)
	f.payDirectly(t, sessionID)
	o := f.waitFulfilled(t, orderID)
	require.Equal(t, "webhook", o.FulfilledVia)
	f.waitWebhookDelivered(t, 1)

	// The customer's browser arrives afterwards.
	resp, err := http.Get(f.url + "/success?session_id=" + sessionID)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "/orders/"+orderID, resp.Request.URL.Path)
	require.Equal(t, 1, f.order(t, orderID).Fulfilments)

	// Five copies of the event, signed as Herald signs them, at once.
	r := f.ts.call(t, http.MethodGet, "/v1/events?type=checkout.session.completed", f.key, nil)
	raw, err := json.Marshal(r.Body["data"].([]any)[0])
	require.NoError(t, err)
	var ev webhook.Event
	require.NoError(t, json.Unmarshal(raw, &ev))
	key, err := webhook.ParseSecret(f.secret)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, f.url+"/webhooks/herald", bytes.NewReader(raw))
			require.NoError(t, err)
			webhook.SetHeaders(req.Header, [][]byte{key}, ev.ID, time.Now(), raw)
			require.Equal(t, http.StatusOK, statusOf(t, req))
		})
	}
	wg.Wait()
	require.Equal(t, 1, f.order(t, orderID).Fulfilments)

	// An operator redrives the delivery.
	d := f.ts.call(t, http.MethodGet, "/v1/deliveries?status=succeeded", f.key, nil).Body["data"].([]any)[0].(map[string]any)
	r = f.ts.call(t, http.MethodPost, "/v1/deliveries/"+d["id"].(string)+"/redrive", f.key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	waitFor(t, 20*time.Second, "the redriven delivery", func() bool {
		d := f.ts.call(t, http.MethodGet, "/v1/deliveries/"+d["id"].(string), f.key, nil).Body
		return d["status"] == "succeeded" && d["attempt_count"].(float64) == 2
	})
	require.Equal(t, 1, f.order(t, orderID).Fulfilments)
}

// Bad requests at the shop's receiver are refused with a 4xx and fulfil
// nothing, even when they name a real, unpaid order.
func TestShopReceiverRefusesBadInput(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	orderID, sessionID := f.checkoutOverHTTP(t)
	body := []byte(`{"id":"evt_forged","object":"event","type":"checkout.session.completed","created":1700000000,` +
		`"data":{"object":{"id":"` + sessionID + `","status":"complete","payment_status":"paid","client_reference_id":"` + orderID + `"}}}`)
	key, err := webhook.ParseSecret(f.secret)
	require.NoError(t, err)
	wrongKey, err := webhook.ParseSecret(webhook.NewSecret())
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		key    []byte
		at     time.Time
		body   []byte
		mutate func(http.Header)
	}{
		{"tampered body", key, time.Now(), bytes.Replace(body, []byte("1700000000"), []byte("1700000001"), 1), nil},
		{"wrong secret", wrongKey, time.Now(), body, nil},
		{"ten minutes old", key, time.Now().Add(-10 * time.Minute), body, nil},
		{"missing headers", key, time.Now(), body, func(h http.Header) { h.Del(webhook.HeaderSignature); h.Del(webhook.HeaderID) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.url+"/webhooks/herald", bytes.NewReader(tt.body))
			require.NoError(t, err)
			// Sign the original body; the tampered one is then sent in its place.
			webhook.SetHeaders(req.Header, [][]byte{tt.key}, "evt_forged", tt.at, body)
			if tt.mutate != nil {
				tt.mutate(req.Header)
			}
			status := statusOf(t, req)
			require.GreaterOrEqual(t, status, 400)
			require.Less(t, status, 500)
		})
	}
	o := f.order(t, orderID)
	require.Equal(t, "pending", o.Status)
	require.Zero(t, o.Fulfilments)

	// The success page does not believe the query string either: the
	// session is unpaid, so nothing is fulfilled.
	resp, err := http.Get(f.url + "/success?session_id=" + sessionID)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "pending", f.order(t, orderID).Status)
}

// The shop is down when the customer pays: Herald retries and the order is
// fulfilled once the shop is back.
func TestShopDownThenBack(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	orderID, sessionID := f.checkoutOverHTTP(t)
	f.stopShop()
	f.payDirectly(t, sessionID)

	waitFor(t, 20*time.Second, "a refused attempt", func() bool {
		list := f.ts.call(t, http.MethodGet, "/v1/deliveries", f.key, nil).Body["data"].([]any)
		return len(list) == 1 && list[0].(map[string]any)["last_error_class"] == "connection_refused"
	})
	f.startShop(t)
	o := f.waitFulfilled(t, orderID)
	require.Equal(t, "webhook", o.FulfilledVia)
	require.Equal(t, 1, o.Fulfilments)
	f.waitWebhookDelivered(t, 1)
	d := f.ts.call(t, http.MethodGet, "/v1/deliveries?status=succeeded", f.key, nil).Body["data"].([]any)[0].(map[string]any)
	require.GreaterOrEqual(t, d["attempt_count"].(float64), 2.0)
}

// A session paid with the shop's key but not created by the shop (someone
// tried the API with it) reaches the shop's endpoint: the shop acknowledges
// it with a 200 and a log line, fulfils nothing, and Herald does not retry.
// Its success page answers 404 instead of an error.
func TestShopAcknowledgesUnknownSessions(t *testing.T) {
	t.Parallel()

	f := newShopFixture(t)
	r := f.ts.call(t, http.MethodPost, "/v1/checkout/sessions", f.key, sessionBody())
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	sessionID := r.Body["id"].(string)
	f.payDirectly(t, sessionID)

	f.waitWebhookDelivered(t, 1)
	listed := f.ts.call(t, http.MethodGet, "/v1/deliveries?status=succeeded", f.key, nil).Body["data"].([]any)[0].(map[string]any)
	d := f.ts.call(t, http.MethodGet, "/v1/deliveries/"+listed["id"].(string), f.key, nil).Body
	attempts := d["attempts"].([]any)
	require.Len(t, attempts, 1, "acknowledged at the first attempt")
	require.EqualValues(t, http.StatusOK, attempts[0].(map[string]any)["response_status"])
	var orders int
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(), `SELECT count(*) FROM shop.orders`).Scan(&orders))
	require.Zero(t, orders)
	require.Contains(t, f.ts.logs.String(), `level=WARN msg="webhook for a checkout session the shop did not create: acknowledged, nothing to fulfil"`)
	require.Contains(t, f.ts.logs.String(), sessionID)

	resp, err := http.Get(f.url + "/success?session_id=" + sessionID)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}
