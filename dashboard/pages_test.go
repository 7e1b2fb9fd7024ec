package dashboard_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
)

// Every page says plainly when it has nothing to show.
func TestEmptyStates(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	br.signIn()
	for _, tt := range []struct{ path, message string }{
		{"/dashboard", "No attempt in this window."},
		{"/dashboard/", "No attempt in this window."},
		{"/dashboard/", "No first attempt in the last hour."},
		{"/dashboard/", "No open breaker: every endpoint is taking deliveries."},
		{"/dashboard/", "No disabled endpoint."},
		{"/dashboard/deliveries", "No deliveries yet."},
		{"/dashboard/deliveries?status=failed", "No delivery matches these filters."},
		{"/dashboard/redrives", "No bulk redrive yet."},
		{"/dashboard/endpoints", "No webhook endpoints yet."},
		{"/dashboard/endpoints?state=disabled", "No endpoint matches these filters."},
	} {
		p := br.get(tt.path)
		require.Equal(t, http.StatusOK, p.Status, tt.path)
		require.Contains(t, p.Body, tt.message, tt.path)
	}
	// The audit log has the sign-in; a fresh dashboard shows its empty state.
	audit := br.get("/dashboard/audit")
	require.Contains(t, audit.Body, "session.sign_in")
	_, err := b.pool.Exec(t.Context(), `DELETE FROM dashboard_audit`)
	require.NoError(t, err)
	require.Contains(t, br.get("/dashboard/audit").Body, "No operator action yet.")
}

func TestOverviewPage(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://down.example/hooks", BreakerState: delivery.BreakerOpen})
	now := time.Now()
	for i := range 10 {
		status, st := 200, delivery.StatusSucceeded
		if i == 0 {
			status, st = 500, delivery.StatusFailed
		}
		dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: st, Created: now.Add(-time.Minute),
			Attempts: []dashboardtest.AttemptOpts{{Status: status, StartedAt: now.Add(-time.Minute + 20*time.Millisecond)}}})
	}
	br := b.browser(t)
	br.signIn()
	p := br.get("/dashboard/")
	require.Equal(t, http.StatusOK, p.Status)
	for _, want := range []string{
		`<p class="tile-value tone-warn" id="success-hour">90.0%</p>`,
		"9 of 10 attempts got a 2xx",
		"<dt>p99</dt><dd>20 ms</dd>", // first-attempt lag
		"https://down.example/hooks",
		`<meta http-equiv="refresh" content="30">`,
	} {
		require.Contains(t, p.Body, want)
	}
}

// The audit page names who did what, to what, with which filter.
func TestAuditPage(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	br := b.browser(t)
	token := br.signIn()
	p := br.post("/dashboard/redrives", url.Values{"csrf_token": {token}, "merchant": {merchant}, "status": {"failed"},
		"event_type": {"charge.failed"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	redriveID := strings.TrimPrefix(p.Location, "/dashboard/redrives/")

	audit := br.get("/dashboard/audit")
	require.Equal(t, http.StatusOK, audit.Status)
	for _, want := range []string{
		"Ada", "127.0.0.1", "Go-http-client/1.1", "redrive.create", `href="/dashboard/redrives/` + redriveID + `"`,
		"<dt>event_type</dt><dd>charge.failed</dd>", "<dt>status</dt><dd>failed</dd>", "started for 0 deliveries",
		"session.sign_in",
	} {
		require.Contains(t, audit.Body, want)
	}
	require.Less(t, strings.Index(audit.Body, "redrive.create"), strings.Index(audit.Body, "session.sign_in"), "newest first")
}

func TestAssets(t *testing.T) {
	t.Parallel()

	b := setup(t)
	resp, err := http.Get(b.srv.URL + "/dashboard/assets/dashboard.css")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the stylesheet needs no session: the sign-in page uses it")
	require.Equal(t, "text/css; charset=utf-8", resp.Header.Get("Content-Type"))
}
