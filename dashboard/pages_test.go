package dashboard_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
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
		{"/dashboard/payments", "No payments yet."},
		{"/dashboard/payments?blocked=1", "No payment matches these filters."},
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

// The overview's charts plot what the attempts say: one dot per hour with
// attempts (success rate, p99 lag), one bar per hour (attempts a minute),
// each carrying its bucket and value, with a title, a description and the
// numbers beside them.
func TestOverviewChartsPage(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	now := b.clock.Now()
	since := now.Add(-24 * time.Hour)
	// Hour 23: four first attempts, lags 100 to 400 ms, one answered 500.
	for i := range 4 {
		created := now.Add(-30 * time.Minute)
		status := 200
		if i == 3 {
			status = 500
		}
		dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: delivery.StatusSucceeded, Created: created,
			Attempts: []dashboardtest.AttemptOpts{{Status: status, StartedAt: created.Add(time.Duration(i+1) * 100 * time.Millisecond)}}})
	}
	// Hour 20: two, a second each.
	for range 2 {
		created := now.Add(-3*time.Hour - 30*time.Minute)
		dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: delivery.StatusSucceeded, Created: created,
			Attempts: []dashboardtest.AttemptOpts{{Status: 204, StartedAt: created.Add(time.Second)}}})
	}

	br := b.browser(t)
	br.signIn()
	p := br.get("/dashboard/")
	require.Equal(t, http.StatusOK, p.Status)
	bucket := func(i int) string { return since.Add(time.Duration(i) * time.Hour).UTC().Format(time.RFC3339) }
	type mark struct{ Bucket, Value string }
	marks := func(id, element string) []mark {
		fig := regexp.MustCompile(`(?s)<figure class="card chart" id="chart-` + id + `">(.*?)</figure>`).FindStringSubmatch(p.Body)
		require.NotNil(t, fig, id)
		require.Contains(t, fig[1], `<svg viewBox="0 0 360 180" role="img" aria-labelledby="chart-`+id+`-title chart-`+id+`-desc"`)
		require.Contains(t, fig[1], `<title id="chart-`+id+`-title">`)
		require.Contains(t, fig[1], `<summary>The numbers, hour by hour (UTC)</summary>`)
		require.Equal(t, 24, strings.Count(fig[1], `<tr><th scope="row">`), "a table row per hour")
		var out []mark
		for _, m := range regexp.MustCompile(`<`+element+` class="chart-[a-z]+" [^>]*data-bucket="([^"]+)" data-value="([^"]+)"`).
			FindAllStringSubmatch(fig[1], -1) {
			out = append(out, mark{m[1], m[2]})
		}
		return out
	}
	require.Equal(t, []mark{{bucket(20), "100.0"}, {bucket(23), "75.0"}}, marks("success", "circle"))
	require.Equal(t, []mark{{bucket(20), "1000"}, {bucket(23), "397"}}, marks("lag", "circle"))
	bars := marks("volume", "rect")
	require.Len(t, bars, 24)
	for i, m := range bars {
		want := "0.00"
		switch i {
		case 20:
			want = "0.03"
		case 23:
			want = "0.07"
		}
		require.Equal(t, mark{bucket(i), want}, m, "bar %d", i)
	}
	require.Contains(t, p.Body, `<p class="chart-summary" id="chart-success-summary">83.3% of 6 attempts got a 2xx; lowest hour 75.0% at `)
	require.NotContains(t, p.Body, "<style", "no inline style: the CSP allows none")
	require.NotContains(t, p.Body, "<script")
}

// River UI's state-changing calls are audited like the dashboard's own
// actions; its reads are not, and other sites cannot make them.
func TestRiverUIChangesAudited(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	br.signIn()
	call := func(method, path, body string, headers ...string) page {
		req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return br.do(req)
	}
	audited := func() int { return len(b.audit(t)) }
	before := audited()

	require.Equal(t, http.StatusOK, call(http.MethodGet, "/dashboard/river/api/jobs?state=running", "").Status)
	require.Equal(t, before, audited(), "reads are not audited")

	p := call(http.MethodPost, "/dashboard/river/api/jobs/cancel", `{"ids":["7"]}`, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "River UI at /dashboard/river/api/jobs/cancel", p.Body, "River UI gets the body it was sent")
	e := b.audit(t)[0]
	require.Equal(t, dashboard.ActionRiverUI, e.Action)
	require.Equal(t, "/api/jobs/cancel", e.Target)
	require.Equal(t, map[string]string{"method": "POST", "body": `{"ids":["7"]}`}, e.Detail)
	require.Equal(t, dashboard.OutcomeSucceeded, e.Outcome)
	require.Equal(t, "HTTP 200", e.Result)
	require.Equal(t, "Ada", e.Operator)

	p = call(http.MethodPut, "/dashboard/river/api/queues/broken", `{}`)
	require.Equal(t, http.StatusBadRequest, p.Status, "River UI's own answer comes through")
	e = b.audit(t)[0]
	require.Equal(t, dashboard.OutcomeFailed, e.Outcome)
	require.Equal(t, "refused by River UI: HTTP 400", e.Result)

	hits, entries := b.riverHits.Load(), audited()
	p = call(http.MethodPost, "/dashboard/river/api/jobs/delete", `{"ids":["7"]}`, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Equal(t, hits, b.riverHits.Load(), "another site's call never reaches River UI")
	require.Equal(t, entries, audited())

	p = call(http.MethodPost, "/dashboard/river/api/jobs/retry", strings.Repeat("x", 65<<10))
	require.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
	require.Equal(t, hits, b.riverHits.Load())
}
