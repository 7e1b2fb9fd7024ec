package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/browsertest"
)

// A customer declined five times is blocked, 4242 included, and in test
// mode the page says by which rule and until when. An operator finds the
// blocked payment among the payments, lifts the IP's block from its page
// (audited), and the customer's next try goes through.
func TestDashboardPaymentsInBrowser(t *testing.T) {
	t.Parallel()

	ts := startServer(t, withDashboard)
	_, key := ts.newMerchant(t, "Paper & Ink")
	shop := newShop(t)
	newSession := func() string {
		t.Helper()
		body := sessionBody()
		body["success_url"] = shop.URL + "/success?session_id={CHECKOUT_SESSION_ID}"
		body["cancel_url"] = shop.URL + "/cart"
		r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, body)
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		return r.Body["url"].(string)
	}
	// Five declines from this machine: the browser's address too.
	c := formClient(t)
	for _, card := range []string{checkout.TestCardDeclined, checkout.TestCardInsufficientFunds, checkout.TestCardExpired,
		checkout.TestCardIncorrectCVC, checkout.TestCardDeclined} {
		payURL := newSession()
		resp, body := postForm(t, c, payURL, payForm(openForm(t, c, payURL), card))
		require.Equal(t, http.StatusPaymentRequired, resp.StatusCode, body)
	}

	customerTab := browsertest.NewTab(t)
	do(t, customerTab, chromedp.Navigate(newSession()), fillAndPay("4242 4242 4242 4242", "12/34", "123"),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
	alert := get(t, customerTab, chromedp.Text(chromedp.CSS(`[role="alert"]`)))
	require.Regexp(t, `^Test mode: blocked by ip_decline_velocity: 5 declines from your network in the last 10 minutes; `+
		`try again after \d\d:\d\d UTC\.$`, alert)
	browsertest.Screenshot(t, customerTab, "customer-blocked")

	ctx := signInDashboard(t, ts, "Ada Lovelace")
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/payments"]`)),
		chromedp.WaitVisible(chromedp.ID("payments")),
	)
	require.Len(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`#payments tbody tr`))), 6, "five declines and the block")
	do(t, ctx,
		chromedp.Click(chromedp.ID("p-blocked")),
		chromedp.Click(chromedp.ID("apply-filters")),
		chromedp.WaitReady(chromedp.CSS(`#p-blocked[checked]`)),
	)
	rows := get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`#payments tbody tr`), chromedp.AtLeast(0)))
	require.Len(t, rows, 1, "only the blocked attempt")
	row := get(t, ctx, chromedp.Text(chromedp.CSS(`#payments tbody tr`)))
	require.Contains(t, row, "blocked")
	require.Contains(t, row, "ip_decline_velocity")
	require.Contains(t, row, "Paper & Ink")
	browsertest.Screenshot(t, ctx, "payments-blocked")

	do(t, ctx,
		chromedp.Click(chromedp.CSS(`#payments tbody tr a.id-link`)),
		chromedp.WaitVisible(chromedp.ID("clear-ip")),
	)
	ipRow := get(t, ctx, chromedp.Text(chromedp.ID("velocity-ip")))
	require.Contains(t, ipRow, "5 of 5")
	require.Contains(t, ipRow, "blocked")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("reasons"))), "ip_decline_velocity")
	browsertest.Screenshot(t, ctx, "payment-blocked")

	do(t, ctx, chromedp.Click(chromedp.ID("clear-ip")), chromedp.WaitVisible(chromedp.ID("notice")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("notice"))), "The client IP's velocity block is lifted")
	ipRow = get(t, ctx, chromedp.Text(chromedp.ID("velocity-ip")))
	require.Contains(t, ipRow, "not blocked")
	require.Contains(t, ipRow, "last cleared by Ada Lovelace")
	require.Empty(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll("#clear-ip"), chromedp.AtLeast(0))))
	browsertest.Screenshot(t, ctx, "payment-cleared")

	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/dashboard/audit"]`)), chromedp.WaitVisible(chromedp.ID("audit")))
	audit := get(t, ctx, chromedp.Text(chromedp.ID("audit")))
	require.Contains(t, audit, "fraud.clear_velocity")
	require.Contains(t, audit, "Client IP cleared")

	do(t, customerTab, fillAndPay("4242 4242 4242 4242", "12/34", "123"), chromedp.WaitVisible(chromedp.ID("thanks")))
}

// The overview's charts on a phone: each fits the 390 px screen, is styled
// by the stylesheet (no inline style, which the CSP would refuse), keeps
// its text legible, and plots the day's deliveries.
func TestDashboardChartsInBrowser(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil, withDashboard)
	for range 3 {
		f.pay(t)
	}
	f.waitDeliveries(t, "succeeded", 3)

	ctx := signInDashboard(t, f.ts, "Ada Lovelace")
	do(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#chart-success svg`)))
	for _, id := range []string{"success", "lag", "volume"} {
		box := get(t, ctx, chromedp.Evaluate[struct{ Left, Right, Width, Text float64 }](`(() => {
			const r = document.querySelector('#chart-`+id+` svg').getBoundingClientRect();
			const label = document.querySelector('#chart-`+id+` .chart-axis text').getBoundingClientRect();
			return {Left: r.left, Right: r.right, Width: r.width, Text: label.height};
		})()`))
		require.GreaterOrEqual(t, box.Left, 0.0, id)
		require.LessOrEqual(t, box.Right, 390.0, "%s fits the screen", id)
		require.Greater(t, box.Width, 300.0, "%s uses the screen", id)
		require.GreaterOrEqual(t, box.Text, 9.0, "%s's axis labels stay legible", id)
	}
	require.LessOrEqual(t, get(t, ctx, chromedp.Evaluate[float64](`document.documentElement.scrollWidth`)), 390.0,
		"nothing on the overview is wider than the screen")
	stroke := get(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#chart-success .chart-line')).stroke`))
	require.Equal(t, "rgb(79, 70, 229)", stroke, "the stylesheet styles the SVG")
	require.Len(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`#chart-success circle.chart-dot`))), 1,
		"one hour with attempts, one dot")
	require.Len(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`#chart-volume rect.chart-bar`))), 24)
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("chart-success-summary"))), "100% of 3 attempts got a 2xx")
	browsertest.Screenshot(t, ctx, "overview-390")
}

// An operator, on a phone, rolls a merchant's API key from the dashboard:
// the new key is shown once and works at once, the old one keeps working
// for the chosen overlap, and revoking it ends it from the next request.
func TestDashboardKeysInBrowser(t *testing.T) {
	t.Parallel()

	ts := startServer(t, withDashboard)
	merchantID, oldKey := ts.newMerchant(t, "Keyed")
	works := func(key string) bool {
		t.Helper()
		return ts.call(t, http.MethodGet, "/v1/checkout/sessions", key, nil).Status == http.StatusOK
	}
	oldID := ts.call(t, http.MethodGet, "/v1/api_keys", oldKey, nil).Body["data"].([]any)[0].(map[string]any)["id"].(string)

	ctx := signInDashboard(t, ts, "Ada Lovelace")
	do(t, ctx, phone(), chromedp.Click(chromedp.CSS(`a[href="/dashboard/keys"]`)), chromedp.WaitVisible(chromedp.ID("k-merchant")),
		chromedp.SetValue(chromedp.ID("k-merchant"), merchantID), chromedp.Submit(chromedp.ID("k-merchant")),
		chromedp.WaitVisible(chromedp.ID("key-"+oldID)))
	requireFits(t, ctx, "the API keys page")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("key-"+oldID))), oldKey[len(oldKey)-4:], "the key's last four characters")
	require.NotContains(t, get(t, ctx, chromedp.Text(chromedp.CSS("main"))), oldKey, "never the key itself")

	do(t, ctx, chromedp.SetValue(chromedp.ID("overlap-"+oldID), "3600"), chromedp.Click(chromedp.ID("roll-"+oldID)),
		chromedp.WaitVisible(chromedp.ID("new-key")))
	requireFits(t, ctx, "the new key's page")
	newKey := strings.TrimSpace(get(t, ctx, chromedp.Text(chromedp.ID("new-key"))))
	require.True(t, strings.HasPrefix(newKey, "sk_test_"), newKey)
	require.True(t, works(newKey), "the new key works at once")
	require.True(t, works(oldKey), "the old key works during the overlap")
	expires, err := time.Parse("2006-01-02 15:04:05 UTC", get(t, ctx, chromedp.Text(chromedp.ID("rolled-expires"))))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), expires, 2*time.Minute, "the hour chosen")
	browsertest.Screenshot(t, ctx, "key-rolled-390")

	do(t, ctx, chromedp.Navigate(ts.URL()+"/dashboard/keys?merchant="+merchantID), chromedp.WaitVisible(chromedp.ID("revoke-"+oldID)),
		chromedp.Click(chromedp.ID("revoke-"+oldID)), chromedp.WaitVisible(chromedp.ID("notice")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("notice"))), "API key revoked")
	require.False(t, works(oldKey), "a revoked key fails at once")
	require.True(t, works(newKey))
}
