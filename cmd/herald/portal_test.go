package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/browsertest"
	"github.com/heraldpay/herald/webhook"
)

// portalLink asks the API for a portal link of the merchant of key.
func portalLink(t *testing.T, ts *testServer, key string) string {
	t.Helper()
	r := ts.call(t, http.MethodPost, "/v1/portal_sessions", key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Equal(t, "portal_session", r.Body["object"])
	require.Regexp(t, `^ps_`, r.Body["id"])
	require.InDelta(t, time.Now().Add(time.Hour).Unix(), r.Body["expires_at"], 5, "one hour")
	link := r.Body["url"].(string)
	require.True(t, strings.HasPrefix(link, ts.URL()+"/portal/open?token=pt_"), link)
	return link
}

// phone makes the tab a 390 px wide phone.
func phone() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: 390, Height: 844, DeviceScaleFactor: 3, Mobile: true})
		return err
	})
}

// requireFits fails unless the page is no wider than the 390 px screen.
func requireFits(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	width := get(t, ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	require.LessOrEqual(t, width, 390, "%s scrolls sideways on a phone", what)
}

// A merchant's staff, on a phone, open the portal link, find their endpoint
// and its delivery with its attempt, redrive it, send a test event, roll
// the secret (shown once; the next webhook is signed with it), and send
// what the endpoint missed while disabled. Then the link expires.
func TestPortalInBrowser(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	f.pay(t)
	first := f.waitDeliveries(t, "succeeded", 1)[0]
	link := portalLink(t, f.ts, f.key)

	ctx := browsertest.NewTab(t)
	do(t, ctx, phone(), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("endpoints")))
	require.Equal(t, f.ts.URL()+"/portal/", get(t, ctx, chromedp.Location()), "the token leaves the address bar")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("endpoints"))), f.sink.URL+"/webhooks")
	requireFits(t, ctx, "the endpoints page")

	do(t, ctx, chromedp.Click(chromedp.ID("endpoint-"+f.endpointID())), chromedp.WaitVisible(chromedp.ID("deliveries")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS(".health"))), "closed (healthy)")
	requireFits(t, ctx, "the endpoint page")
	do(t, ctx, chromedp.Click(chromedp.ID("delivery-"+first["id"].(string))), chromedp.WaitVisible(chromedp.ID("attempts")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("attempts"))), "HTTP 200")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("payload"))), webhook.TypeCheckoutSessionCompleted)
	requireFits(t, ctx, "the delivery page")

	// Redrive: a second attempt appears.
	do(t, ctx, chromedp.Click(chromedp.ID("redrive")), chromedp.WaitVisible(chromedp.ID("notice")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("notice"))), "new attempt is on its way")
	waitFor(t, 20*time.Second, "the redriven attempt", func() bool {
		do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("attempt-count")))
		return get(t, ctx, chromedp.Text(chromedp.ID("attempt-count"))) == "2"
	})
	require.Len(t, f.sink.Requests(), 2)

	// Test event.
	do(t, ctx, chromedp.Navigate(f.ts.URL()+"/portal/endpoints/"+f.endpointID()), chromedp.WaitVisible(chromedp.ID("send-test")),
		chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("notice")))
	ping := f.sink.Wait(t, 3)[2]
	require.Contains(t, string(ping.Body), `"type":"test.ping"`)

	// Roll the secret: shown once, and the next webhook is signed with it.
	do(t, ctx, chromedp.Click(chromedp.ID("roll-secret")), chromedp.WaitVisible(chromedp.ID("new-secret")))
	secret := get(t, ctx, chromedp.Text(chromedp.ID("new-secret")))
	require.True(t, strings.HasPrefix(secret, "whsec_"), secret)
	requireFits(t, ctx, "the secret page")
	do(t, ctx, chromedp.Navigate(f.ts.URL()+"/portal/endpoints/"+f.endpointID()), chromedp.WaitVisible(chromedp.ID("send-test")))
	require.NotContains(t, get(t, ctx, chromedp.Text(chromedp.CSS("main"))), secret, "never shown again")
	do(t, ctx, chromedp.Click(chromedp.ID("send-test")), chromedp.WaitVisible(chromedp.ID("notice")))
	signed := f.sink.Wait(t, 4)[3]
	v, err := webhook.NewVerifier(secret)
	require.NoError(t, err)
	require.NoError(t, v.Verify(signed.Header, signed.Body), "signed with the secret the portal showed")

	// Disabled, the endpoint misses a payment; the portal sends it.
	r := f.ts.call(t, http.MethodPatch, "/v1/webhook_endpoints/"+f.endpointID(), f.key, map[string]any{"status": "disabled"})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	f.pay(t)
	f.waitDeliveries(t, "skipped", 1)
	// A fresh tab (each has a minute): the link opens again within its hour.
	ctx = browsertest.NewTab(t)
	do(t, ctx, phone(), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("endpoints")),
		chromedp.Navigate(f.ts.URL()+"/portal/endpoints/"+f.endpointID()), chromedp.WaitVisible(chromedp.ID("send-missed")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS(".health"))), "disabled through the API")
	require.Equal(t, "Re-enable and send the 1 missed event", get(t, ctx, chromedp.Text(chromedp.ID("send-missed"))))
	do(t, ctx, chromedp.Click(chromedp.ID("send-missed")), chromedp.WaitVisible(chromedp.ID("notice")))
	missed := f.sink.Wait(t, 5)[4]
	require.Contains(t, string(missed.Body), `"type":"checkout.session.completed"`)
	require.Equal(t, "enabled", f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+f.endpointID(), f.key, nil).Body["status"])

	// The hour is up.
	_, err = f.ts.Pool().Exec(context.Background(), `UPDATE portal_sessions SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	do(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("message-title")))
	require.Equal(t, "This link has expired", get(t, ctx, chromedp.Text(chromedp.ID("message-title"))))
	require.Empty(t, get(t, ctx, chromedp.Nodes(chromedp.ID("send-test"), chromedp.AtLeast(0))))
	do(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("message-title")))
	require.Equal(t, "This link has expired", get(t, ctx, chromedp.Text(chromedp.ID("message-title"))), "opening it again too")
	requireFits(t, ctx, "the expired page")
}

// Another merchant's ids are unknown ids in the portal, for pages and
// actions alike, in a browser and by hand.
func TestPortalTenantIsolation(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	_, otherKey := f.ts.newMerchant(t, "Globex")
	otherSink := newSink(t, nil)
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints", otherKey, map[string]any{"url": otherSink.URL, "enabled_events": []string{"*"}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	otherEndpoint := r.Body["id"].(string)
	r = f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+otherEndpoint+"/test", otherKey, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	otherDelivery := r.Body["id"].(string)
	otherSink.Wait(t, 1)

	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(portalLink(t, f.ts, f.key)), chromedp.WaitVisible(chromedp.ID("endpoints")))
	require.NotContains(t, get(t, ctx, chromedp.Text(chromedp.ID("endpoints"))), otherSink.URL)
	for _, path := range []string{"/portal/endpoints/" + otherEndpoint, "/portal/deliveries/" + otherDelivery, "/portal/endpoints/cs_123"} {
		do(t, ctx, chromedp.Navigate(f.ts.URL()+path), chromedp.WaitVisible(chromedp.ID("message-title")))
		require.Equal(t, "Not found", get(t, ctx, chromedp.Text(chromedp.ID("message-title"))), path)
	}

	// By hand, with the session's cookie and form token: still nothing.
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	page := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(f.ts.URL() + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	link, err := url.Parse(portalLink(t, f.ts, f.key))
	require.NoError(t, err)
	status, body := page(link.RequestURI())
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "no-referrer", func() string {
		resp, err := c.Get(f.ts.URL() + "/portal/")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.Header.Get("Referrer-Policy")
	}())
	token := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(func() string {
		_, b := page("/portal/endpoints/" + f.endpointID())
		return b
	}())
	require.NotNil(t, token, body)
	post := func(path string, form url.Values, headers ...string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, f.ts.URL()+path, strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	withToken := url.Values{"csrf_token": {token[1]}}
	require.Equal(t, http.StatusNotFound, post("/portal/endpoints/"+otherEndpoint+"/test", withToken))
	require.Equal(t, http.StatusNotFound, post("/portal/endpoints/"+otherEndpoint+"/roll_secret", withToken))
	require.Equal(t, http.StatusNotFound, post("/portal/deliveries/"+otherDelivery+"/redrive", withToken))
	require.Len(t, otherSink.Requests(), 1, "the other merchant's endpoint got nothing more")

	// Forms need the session's token and must come from the portal itself.
	require.Equal(t, http.StatusForbidden, post("/portal/endpoints/"+f.endpointID()+"/test", url.Values{}))
	require.Equal(t, http.StatusForbidden, post("/portal/endpoints/"+f.endpointID()+"/test", withToken, "Sec-Fetch-Site", "cross-site"))
	require.Equal(t, http.StatusSeeOther, func() int {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		defer func() { c.CheckRedirect = nil }()
		return post("/portal/endpoints/"+f.endpointID()+"/test", withToken)
	}())
	f.sink.Wait(t, 1)

	// Without a link, or with a made-up one, there is nothing to see.
	status, _ = func() (int, string) {
		resp, err := http.Get(f.ts.URL() + "/portal/")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode, ""
	}()
	require.Equal(t, http.StatusUnauthorized, status)
	status, _ = page("/portal/open?token=pt_madeup")
	require.Equal(t, http.StatusNotFound, status)
}
