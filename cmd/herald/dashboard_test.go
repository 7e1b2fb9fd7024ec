package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/browsertest"
)

// dashboardPassword is the operator password of the dashboard tests.
const dashboardPassword = "operator password for tests"

// withDashboard turns the operator dashboard on.
func withDashboard(c *Config) { c.DashboardPassword = dashboardPassword }

// failingFixture is a delivery fixture whose sink answers 500 until told
// otherwise, with two quick attempts per delivery, so failed deliveries
// appear within a second.
func failingFixture(t *testing.T) *deliveryFixture {
	t.Helper()
	return newDeliveryFixture(t, status(http.StatusInternalServerError), withDashboard, func(c *Config) {
		c.RetrySchedule = []time.Duration{50 * time.Millisecond}
		c.BreakerOpenFor = 100 * time.Millisecond // keep the breaker out of the way
	})
}

// merchantID is the fixture merchant's id.
func (f *deliveryFixture) merchantID(t *testing.T) string {
	t.Helper()
	var merchantID string
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(), `SELECT merchant_id FROM webhook_endpoints WHERE id = $1`,
		f.endpointID()).Scan(&merchantID))
	return merchantID
}

// signInDashboard opens the dashboard in a new tab and signs in as operator.
func signInDashboard(t *testing.T, ts *testServer, operator string) context.Context {
	t.Helper()
	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(ts.URL()+"/dashboard/"), chromedp.WaitVisible(chromedp.ID("operator")))
	require.Contains(t, get(t, ctx, chromedp.Location()), "/dashboard/login?next=", "signed out, the dashboard asks to sign in")
	do(t, ctx,
		chromedp.SendKeys(chromedp.ID("operator"), operator),
		chromedp.SendKeys(chromedp.ID("password"), dashboardPassword),
		chromedp.Click(chromedp.ID("sign-in")),
		chromedp.WaitVisible(chromedp.ID("sign-out")),
	)
	require.Equal(t, ts.URL()+"/dashboard/", get(t, ctx, chromedp.Location()))
	return ctx
}

// reloadUntil reloads the page until sel is on it.
func reloadUntil(t *testing.T, ctx context.Context, sel chromedp.CSS, what string) {
	t.Helper()
	waitFor(t, 30*time.Second, what, func() bool {
		nodes := get(t, ctx, chromedp.Nodes(sel, chromedp.AtLeast(0)))
		if len(nodes) > 0 {
			return true
		}
		do(t, ctx, chromedp.Reload())
		return false
	})
}

// An operator finds a failed delivery by filter, opens it, redrives it and
// watches the new, successful attempt appear.
func TestDashboardRedriveInBrowser(t *testing.T) {
	t.Parallel()

	f := failingFixture(t)
	f.pay(t)
	failed := f.waitDeliveries(t, "failed", 1)[0]["id"].(string)
	f.sink.SetHandler(nil) // the endpoint has recovered
	// A second endpoint, and a second event to both, so the list has more
	// than the failure.
	f.createEndpoint(t, newSink(t, nil).URL+"/hooks")
	f.pay(t)
	f.waitDeliveries(t, "succeeded", 2)

	ctx := signInDashboard(t, f.ts, "Ada Lovelace")
	require.Equal(t, "50.0%", get(t, ctx, chromedp.Text(chromedp.ID("success-hour"))), "2 of 4 attempts got a 2xx")
	browsertest.Screenshot(t, ctx, "overview")

	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/deliveries"]`)),
		chromedp.WaitVisible(chromedp.ID("apply-filters")),
		chromedp.SetValue(chromedp.ID("f-merchant"), f.merchantID(t)),
		chromedp.SetValue(chromedp.ID("f-status"), "failed"),
		chromedp.Click(chromedp.ID("apply-filters")),
		chromedp.WaitReady(chromedp.CSS(`#f-status option[value="failed"][selected]`)),
	)
	rows := get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`#deliveries tbody tr`), chromedp.AtLeast(0)))
	require.Len(t, rows, 1, "only the failed delivery")
	require.Contains(t, get(t, ctx, chromedp.Location()), "status=failed")
	browsertest.Screenshot(t, ctx, "deliveries")

	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/deliveries/`+failed+`"]`)),
		chromedp.WaitVisible(chromedp.ID("redrive")),
	)
	require.Len(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll(`#attempts details.attempt-bad`))), 2)
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("payload"))), `"type": "checkout.session.completed"`)
	browsertest.Screenshot(t, ctx, "delivery-failed")

	do(t, ctx, chromedp.Click(chromedp.ID("redrive")), chromedp.WaitVisible(chromedp.ID("notice")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("notice"))), "Redrive queued")
	// The page refreshes itself while the delivery is on its way.
	reloadUntil(t, ctx, `#attempts details.attempt-ok[data-number="3"]`, "the redriven attempt")
	latest := get(t, ctx, chromedp.Text(chromedp.CSS(`#attempts details[data-number="3"] summary`)))
	require.Contains(t, latest, "HTTP 200")
	require.Contains(t, latest, "redrive")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS(".status-line"))), "succeeded")
	browsertest.Screenshot(t, ctx, "delivery-redriven")

	d := f.delivery(t, failed)
	require.Equal(t, "succeeded", d["status"])
	require.Len(t, attemptsOf(d), 3)

	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/dashboard/audit"]`)), chromedp.WaitVisible(chromedp.ID("audit")))
	audit := get(t, ctx, chromedp.Text(chromedp.ID("audit")))
	require.Contains(t, audit, "delivery.redrive")
	require.Contains(t, audit, "Ada Lovelace")
	require.Contains(t, audit, failed)
	browsertest.Screenshot(t, ctx, "audit")
}

// A bulk redrive: the dry run says how many deliveries match, the real run
// sends each once and its progress page follows it to the end.
func TestDashboardBulkRedriveInBrowser(t *testing.T) {
	t.Parallel()

	f := failingFixture(t)
	for range 3 {
		f.pay(t)
	}
	f.waitDeliveries(t, "failed", 3)
	f.sink.SetHandler(nil)
	before := len(f.sink.Requests())

	ctx := signInDashboard(t, f.ts, "Grace Hopper")
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/redrives"]`)),
		chromedp.WaitVisible(chromedp.ID("preview")),
		chromedp.Click(chromedp.ID("preview")),
		chromedp.WaitVisible(chromedp.CSS(`.field-error`)),
	)
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS(`.field-error`))), "Choose a merchant")
	do(t, ctx,
		chromedp.SetValue(chromedp.ID("f-merchant"), f.merchantID(t)),
		chromedp.Click(chromedp.ID("preview")),
		chromedp.WaitVisible(chromedp.ID("preview-count")),
	)
	require.Equal(t, "3 deliveries match", get(t, ctx, chromedp.Text(chromedp.ID("preview-count"))))
	require.Len(t, f.sink.Requests(), before, "a dry run sends nothing")
	browsertest.Screenshot(t, ctx, "bulk-redrive-preview")

	do(t, ctx, chromedp.Click(chromedp.ID("start-redrive")), chromedp.WaitVisible(chromedp.ID("progress-text")))
	reloadUntil(t, ctx, `.status-line .pill-ok`, "the redrive to complete")
	require.Equal(t, "3 of 3 deliveries sent again · 100%", get(t, ctx, chromedp.Text(chromedp.ID("progress-text"))))
	require.Empty(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll("#cancel-redrive"), chromedp.AtLeast(0))), "nothing left to cancel")
	browsertest.Screenshot(t, ctx, "bulk-redrive-progress")

	f.waitDeliveries(t, "succeeded", 3)
	perID := map[string]int{}
	for _, req := range f.sink.Requests()[before:] {
		perID[req.Header.Get("webhook-id")]++
	}
	require.Len(t, perID, 3)
	for msgID, n := range perID {
		require.Equal(t, 1, n, "%s redriven once", msgID)
	}

	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/dashboard/audit"]`)), chromedp.WaitVisible(chromedp.ID("audit")))
	audit := get(t, ctx, chromedp.Text(chromedp.ID("audit")))
	require.Contains(t, audit, "redrive.create")
	require.Contains(t, audit, "started for 3 deliveries")
	require.Contains(t, audit, "status\nfailed")
}

// Endpoint health on the overview and the endpoints page, and pause,
// resume and re-enable from there: one endpoint works, one answers 410
// Gone (and is disabled), one answers 503 until its breaker opens. The
// disabled one misses a payment, and its re-enable sends it.
func TestDashboardEndpointsInBrowser(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil, withDashboard, func(c *Config) {
		c.RetrySchedule = []time.Duration{time.Hour}
		c.InflightPerEndpoint = 1 // one attempt at a time: five failures, then the breaker
		c.BreakerOpenFor = time.Hour
	})
	goneSink := newSink(t, status(http.StatusGone))
	gone := f.createEndpoint(t, goneSink.URL+"/old-hooks")["id"].(string)
	failing := f.createEndpoint(t, newSink(t, status(http.StatusServiceUnavailable)).URL+"/hooks")["id"].(string)
	for range 6 {
		f.pay(t)
	}
	f.waitDeliveries(t, "succeeded", 6)
	waitFor(t, 20*time.Second, "a disabled endpoint and an open breaker", func() bool {
		g := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+gone, f.key, nil).Body
		b := f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+failing, f.key, nil).Body
		return g["status"] == "disabled" && b["health"].(map[string]any)["breaker_state"] == "open"
	})

	// The payments after the 410 were missed by the disabled endpoint.
	missed := len(f.deliveries(t, "status=skipped&endpoint_id="+gone))
	require.Positive(t, missed)

	ctx := signInDashboard(t, f.ts, "Ada Lovelace")
	require.Equal(t, "2", get(t, ctx, chromedp.Text(chromedp.ID("attention"))))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("breakers"))), failing)
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("disabled"))), "the endpoint answered 410 Gone")
	browsertest.Screenshot(t, ctx, "overview")

	do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/dashboard/endpoints"]`)), chromedp.WaitVisible(chromedp.ID("endpoints")))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS("#endpoint-"+gone))), "the endpoint answered 410 Gone")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS("#endpoint-"+failing))), "next probe in")
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS("#endpoint-"+f.endpointID()))), "100%")
	browsertest.Screenshot(t, ctx, "endpoints")

	endpointState := func(endpointID string) map[string]any {
		return f.ts.call(t, http.MethodGet, "/v1/webhook_endpoints/"+endpointID, f.key, nil).Body
	}
	do(t, ctx, chromedp.Click(chromedp.ID("pause-"+f.endpointID())), chromedp.WaitVisible(chromedp.ID("resume-"+f.endpointID())))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("notice"))), "Endpoint paused")
	require.Equal(t, true, endpointState(f.endpointID())["paused"])
	do(t, ctx, chromedp.Click(chromedp.ID("resume-"+f.endpointID())), chromedp.WaitVisible(chromedp.ID("pause-"+f.endpointID())))
	require.Equal(t, false, endpointState(f.endpointID())["paused"])
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("enable_send-"+gone))),
		fmt.Sprintf("Re-enable and send the %d %s it missed", missed, map[bool]string{true: "event", false: "events"}[missed == 1]))
	goneSink.SetHandler(nil)
	do(t, ctx, chromedp.Click(chromedp.ID("enable_send-"+gone)), chromedp.WaitVisible(chromedp.ID("pause-"+gone)))
	require.Contains(t, get(t, ctx, chromedp.Text(chromedp.ID("notice"))), "A redrive is sending the deliveries it missed")
	require.Equal(t, "enabled", endpointState(gone)["status"])
	goneSink.Wait(t, 1+missed)
	waitFor(t, 10*time.Second, "the missed deliveries to succeed", func() bool {
		return len(f.deliveries(t, "status=succeeded&endpoint_id="+gone)) == missed
	})
	browsertest.Screenshot(t, ctx, "endpoints-after-send")
}

// River UI is served behind the dashboard's sign-in and works there: its
// single-page app loads under the dashboard's headers and reads its API.
func TestDashboardRiverUIInBrowser(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil, withDashboard)
	f.pay(t)
	f.waitDeliveries(t, "succeeded", 1)

	ctx := signInDashboard(t, f.ts, "Ada Lovelace")
	do(t, ctx,
		chromedp.Click(chromedp.CSS(`a[href="/dashboard/river/"]`)),
		chromedp.WaitVisible(chromedp.Search(`//*[@id="root"]//a[contains(., "Completed")]`)),
	)
	require.True(t, strings.HasPrefix(get(t, ctx, chromedp.Location()), f.ts.URL()+"/dashboard/river/"))
	// The delivery's job comes from River UI's API, through the session.
	do(t, ctx,
		chromedp.Click(chromedp.Search(`//*[@id="root"]//a[contains(., "Completed")]`)),
		chromedp.WaitVisible(chromedp.Search(`//*[@id="root"]//*[contains(text(), "herald.deliver")]`)),
	)
	browsertest.Screenshot(t, ctx, "river-ui")
}

// Signed out, neither the dashboard nor River UI shows anything: pages send
// the browser to sign in and River UI's API answers 401.
func TestDashboardRequiresSignIn(t *testing.T) {
	t.Parallel()

	ts := startServer(t, withDashboard)
	for _, path := range []string{"/dashboard", "/dashboard/deliveries", "/dashboard/river/", "/dashboard/river/jobs", "/dashboard/audit"} {
		resp, err := http.Get(ts.URL() + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, "/dashboard/login", resp.Request.URL.Path, "%s ends on the sign-in page", path)
		require.Contains(t, string(body), `id="sign-in"`, path)
		require.NotContains(t, string(body), "config__json", "nothing of River UI")
	}
	for _, path := range []string{"/dashboard/river/api/jobs?state=available", "/dashboard/river/api/queues"} {
		req, err := http.NewRequest(http.MethodGet, ts.URL()+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "application/json")
		require.Equal(t, http.StatusUnauthorized, statusOf(t, req), path)
	}
	resp, err := http.PostForm(ts.URL()+"/dashboard/river/api/jobs/cancel", url.Values{"job_ids": {"1"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// Without HERALD_DASHBOARD_PASSWORD the dashboard, River UI with it, is off.
func TestDashboardOffWithoutPassword(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	for _, path := range []string{"/dashboard", "/dashboard/login", "/dashboard/river/", "/dashboard/river/api/jobs"} {
		status, body := httpGet(t, ts.URL()+path)
		require.Equal(t, http.StatusNotFound, status, path)
		require.Contains(t, body, "Set HERALD_DASHBOARD_PASSWORD", path)
	}
}

func TestDashboardPasswordSetting(t *testing.T) {
	t.Parallel()

	base := map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": envDev}
	production := map[string]string{"DATABASE_URL": "postgres://x", "HERALD_SECRET": strings.Repeat("s", 32),
		"HERALD_PUBLIC_URL": "https://pay.example.com"}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
		err  string
	}{
		{"Off", base, nil, "", ""},
		{"Env", map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": envDev, "HERALD_DASHBOARD_PASSWORD": "from the environment"}, nil,
			"from the environment", ""},
		{"Flag", base, []string{"--dashboard-password", "from the flag"}, "from the flag", ""},
		{"EightInDev", base, []string{"--dashboard-password", "8 chars!"}, "8 chars!", ""},
		{"ShortInDev", base, []string{"--dashboard-password", "seven.."}, "",
			"HERALD_DASHBOARD_PASSWORD must be at least 8 characters (12 in production)"},
		{"ShortInProduction", production, []string{"--dashboard-password", "elevenchars"}, "",
			"HERALD_DASHBOARD_PASSWORD must be at least 12 characters in production"},
		{"LongInProduction", production, []string{"--dashboard-password", "twelve chars"}, "twelve chars", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg, ok := parseSetting(t, tt.env, tt.args, tt.err)
			if !ok {
				return
			}
			require.Equal(t, tt.want, cfg.DashboardPassword)
		})
	}
	require.Contains(t, secretSettings, "HERALD_DASHBOARD_PASSWORD", "never echoed in an error")
}
