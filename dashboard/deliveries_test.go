package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

func TestDeliveryFilters(t *testing.T) {
	t.Parallel()

	b := setup(t)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acme := dashboardtest.Merchant(t, b.pool, "Acme")
	globex := dashboardtest.Merchant(t, b.pool, "Globex")
	acmeHooks := dashboardtest.Endpoint(t, b.pool, acme, dashboardtest.EndpointOpts{URL: "https://acme.example/hooks"})
	acmeAudit := dashboardtest.Endpoint(t, b.pool, acme, dashboardtest.EndpointOpts{URL: "https://acme.example/audit"})
	globexHooks := dashboardtest.Endpoint(t, b.pool, globex, dashboardtest.EndpointOpts{URL: "https://globex.example/hooks"})
	seed := func(merchant, endpoint string, status delivery.Status, typ string, hoursAfter int) string {
		return dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: status, EventType: typ,
			Created: base.Add(time.Duration(hoursAfter) * time.Hour)})
	}
	d1 := seed(acme, acmeHooks, delivery.StatusFailed, webhook.TypeCheckoutSessionCompleted, 1)
	d2 := seed(acme, acmeHooks, delivery.StatusSucceeded, webhook.TypeChargeSucceeded, 2)
	d3 := seed(acme, acmeAudit, delivery.StatusFailed, webhook.TypeChargeFailed, 3)
	d4 := seed(globex, globexHooks, delivery.StatusPending, webhook.TypeCheckoutSessionCompleted, 4)
	d5 := seed(globex, globexHooks, delivery.StatusFailed, webhook.TypeCheckoutSessionCompleted, 5)
	d6 := seed(acme, acmeHooks, delivery.StatusCanceled, webhook.TypeCheckoutSessionExpired, 6)

	for _, tt := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"All", nil, []string{d6, d5, d4, d3, d2, d1}},
		{"Merchant", url.Values{"merchant": {acme}}, []string{d6, d3, d2, d1}},
		{"Endpoint", url.Values{"endpoint": {acmeHooks}}, []string{d6, d2, d1}},
		{"Status", url.Values{"status": {"failed"}}, []string{d5, d3, d1}},
		{"MerchantAndStatus", url.Values{"merchant": {acme}, "status": {"failed"}}, []string{d3, d1}},
		{"EndpointAndStatus", url.Values{"endpoint": {globexHooks}, "status": {"pending"}}, []string{d4}},
		{"EventType", url.Values{"event_type": {webhook.TypeCheckoutSessionCompleted}}, []string{d5, d4, d1}},
		{"Since", url.Values{"since": {"2026-03-01T15:00"}}, []string{d6, d5, d4, d3}},
		{"Until", url.Values{"until": {"2026-03-01T15:00:00"}}, []string{d2, d1}},
		{"Window", url.Values{"since": {"2026-03-01T14:00"}, "until": {"2026-03-01T17:00"}}, []string{d4, d3, d2}},
		{"Everything", url.Values{"merchant": {globex}, "endpoint": {globexHooks}, "status": {"failed"},
			"event_type": {webhook.TypeCheckoutSessionCompleted}, "since": {"2026-03-01"}, "until": {"2026-03-02"}}, []string{d5}},
		{"Nothing", url.Values{"merchant": {globex}, "status": {"canceled"}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			br := b.browser(t)
			br.signIn()
			p := br.get("/dashboard/deliveries?" + tt.query.Encode())
			require.Equal(t, http.StatusOK, p.Status, p.Body)
			require.Equal(t, tt.want, deliveryIDs(p.Body))
			if tt.want == nil {
				require.Contains(t, p.Body, "No delivery matches these filters.")
			}
			for key, v := range tt.query {
				require.Contains(t, p.Body, `value="`+v[0]+`"`, "the form keeps %s", key)
			}
		})
	}

	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()

		br := b.browser(t)
		br.signIn()
		for _, tt := range []struct {
			query   url.Values
			message string
		}{
			{url.Values{"status": {"lost"}}, "Unknown status."},
			{url.Values{"event_type": {"order.shipped"}}, "Unknown event type."},
			{url.Values{"merchant": {"not-a-merchant"}}, "Not a merchant id"},
			{url.Values{"endpoint": {"dlv_123"}}, "Not an endpoint id"},
			{url.Values{"since": {"yesterday"}}, "Use a date and time like 2026-01-31T14:05 (UTC)."},
			{url.Values{"since": {"2026-03-02"}, "until": {"2026-03-01"}}, "Must be after Since."},
		} {
			p := br.get("/dashboard/deliveries?" + tt.query.Encode())
			require.Equal(t, http.StatusBadRequest, p.Status, tt.query)
			require.Contains(t, p.Body, tt.message)
			require.Empty(t, deliveryIDs(p.Body))
		}
		require.Equal(t, http.StatusBadRequest, br.get("/dashboard/deliveries?after=garbage").Status)
	})
}

var pagerRE = regexp.MustCompile(`<a href="([^"]+)" id="page-(newer|older)">`)

// pagerLinks returns the page's newer and older links ("" when absent).
func pagerLinks(t *testing.T, body string) (newer, older string) {
	t.Helper()
	for _, m := range pagerRE.FindAllStringSubmatch(body, -1) {
		link := strings.ReplaceAll(m[1], "&amp;", "&")
		if m[2] == "newer" {
			newer = link
		} else {
			older = link
		}
	}
	return newer, older
}

// Keyset pages walk the whole list both ways, keep the filter, and do not
// shift when new deliveries arrive meanwhile.
func TestDeliveryPaging(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	other := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	base := time.Now().Add(-time.Hour)
	statuses := []delivery.Status{delivery.StatusSucceeded, delivery.StatusFailed, delivery.StatusPending, delivery.StatusCanceled}
	for i := range 120 {
		// Pairs share a creation time: the id breaks the tie.
		created := base.Add(time.Duration(i/2) * time.Second)
		dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: statuses[i%len(statuses)], Created: created})
		dashboardtest.Delivery(t, b.pool, merchant, other, dashboardtest.DeliveryOpts{Created: created})
	}
	// Newest first, ids in the database's own collation.
	rows, err := b.pool.Query(context.Background(), `SELECT id FROM deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC`, endpoint)
	require.NoError(t, err)
	want, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, want, 120)

	br := b.browser(t)
	br.signIn()
	first := br.get("/dashboard/deliveries?endpoint=" + endpoint)
	require.Equal(t, want[:50], deliveryIDs(first.Body))
	newer, older := pagerLinks(t, first.Body)
	require.Empty(t, newer, "the first page is the newest")
	require.Contains(t, older, "endpoint="+endpoint, "the filter is kept")

	// Deliveries created now do not shift the pages already being read.
	dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{})

	second := br.get(older)
	require.Equal(t, want[50:100], deliveryIDs(second.Body))
	_, older = pagerLinks(t, second.Body)
	third := br.get(older)
	require.Equal(t, want[100:], deliveryIDs(third.Body))
	newer, older = pagerLinks(t, third.Body)
	require.Empty(t, older, "the last page")
	back := br.get(newer)
	require.Equal(t, want[50:100], deliveryIDs(back.Body))
	newer, _ = pagerLinks(t, back.Body)
	require.Len(t, deliveryIDs(br.get(newer).Body), 50)
	require.Contains(t, back.Body, "« Newest")
}

func TestDeliveryPage(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://acme.example/hooks"})
	now := time.Now()
	deliveryID := dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed,
		Created: now.Add(-time.Hour), Attempts: []dashboardtest.AttemptOpts{
			{ErrorClass: delivery.ClassConnectionRefused, StartedAt: now.Add(-59 * time.Minute), Duration: 3 * time.Millisecond},
			{Status: 503, StartedAt: now.Add(-30 * time.Minute), Duration: 1500 * time.Millisecond, Body: `{"error":"maintenance","retry":true}`},
		}})
	br := b.browser(t)
	br.signIn()

	p := br.get("/dashboard/deliveries/" + deliveryID)
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	for _, want := range []string{
		"Acme", "https://acme.example/hooks", webhook.TypeCheckoutSessionCompleted,
		"&#34;amount_total&#34;: 3250", // the payload, indented
		"HTTP 503", "1500 ms", "retry", "connection_refused", "3.0 ms", "initial",
		"&#34;error&#34;: &#34;maintenance&#34;", // the response body, indented
		"Webhook-Id", `id="redrive"`,
	} {
		require.Contains(t, p.Body, want)
	}
	require.Less(t, strings.Index(p.Body, `data-number="2"`), strings.Index(p.Body, `data-number="1"`), "newest attempt first")

	for _, path := range []string{"/dashboard/deliveries/dlv_doesnotexist", "/dashboard/deliveries/evt_wrongkind"} {
		p := br.get(path)
		require.Equal(t, http.StatusNotFound, p.Status)
		require.Contains(t, p.Body, "Not found")
	}
}

func TestRedriveDelivery(t *testing.T) {
	t.Parallel()

	b := setup(t)
	ctx := context.Background()
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	disabled := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{Status: delivery.EndpointDisabled,
		DisabledReason: delivery.DisabledReasonGone})
	failed := []dashboardtest.AttemptOpts{{Status: 500, StartedAt: time.Now()}}
	redrivable := dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed, Attempts: failed})
	blocked := dashboardtest.Delivery(t, b.pool, merchant, disabled, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed, Attempts: failed})
	br := b.browser(t)
	token := br.signIn()

	p := br.post("/dashboard/deliveries/"+redrivable+"/redrive", url.Values{"csrf_token": {token}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, "/dashboard/deliveries/"+redrivable+"?notice=redriven", p.Location)
	page := br.get(p.Location)
	require.Contains(t, page.Body, "Redrive queued")
	require.Contains(t, page.Body, `<meta http-equiv="refresh" content="2">`, "the page follows the delivery")
	require.Contains(t, page.Body, "It is still on its way")
	var status string
	var jobs int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT status FROM deliveries WHERE id = $1`, redrivable).Scan(&status))
	require.Equal(t, "pending", status)
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'herald.deliver' AND args->>'delivery_id' = $1`,
		redrivable).Scan(&jobs))
	require.Equal(t, 1, jobs)

	// Again while it is on its way: left alone, and said so.
	p = br.post("/dashboard/deliveries/"+redrivable+"/redrive", url.Values{"csrf_token": {token}})
	require.Equal(t, "/dashboard/deliveries/"+redrivable+"?notice=still_pending", p.Location)

	p = br.post("/dashboard/deliveries/"+blocked+"/redrive", url.Values{"csrf_token": {token}})
	require.Equal(t, "/dashboard/deliveries/"+blocked+"?notice=endpoint_disabled", p.Location)
	require.Contains(t, br.get("/dashboard/deliveries/"+blocked).Body, "Its endpoint is disabled")

	entries := b.audit(t)
	require.Len(t, entries, 4)
	for i, want := range []struct {
		target  string
		outcome dashboard.AuditOutcome
		result  string
	}{
		{blocked, dashboard.OutcomeFailed, "endpoint is disabled"},
		{redrivable, dashboard.OutcomeSucceeded, "left alone: still on its way"},
		{redrivable, dashboard.OutcomeSucceeded, "sent again with a fresh set of attempts"},
	} {
		e := entries[i]
		require.Equal(t, dashboard.ActionDeliveryRedrive, e.Action)
		require.Equal(t, want.target, e.Target)
		require.Equal(t, want.outcome, e.Outcome)
		require.Equal(t, want.result, e.Result)
		require.Equal(t, merchant, e.MerchantID)
		require.Equal(t, "Ada", e.Operator)
		require.True(t, strings.HasPrefix(e.SessionID, "dss_"))
	}
	require.Equal(t, dashboard.ActionSignIn, entries[3].Action)
}

// A pending delivery says why it waits and until when: held by a paused
// endpoint, or by an open breaker until its next probe. One that lost its
// job can be redriven; a skipped one says why it has no attempt.
func TestDeliveryPageSaysWhyItWaits(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	probe := time.Now().Add(25 * time.Second)
	broken := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{BreakerState: delivery.BreakerOpen, NextProbeAt: &probe})
	paused := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{Paused: true})
	off := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{Status: delivery.EndpointDisabled})
	behindBreaker := dashboardtest.Delivery(t, b.pool, merchant, broken, dashboardtest.DeliveryOpts{Orphaned: true})
	held := dashboardtest.Delivery(t, b.pool, merchant, paused, dashboardtest.DeliveryOpts{Held: true})
	skipped := dashboardtest.Delivery(t, b.pool, merchant, off, dashboardtest.DeliveryOpts{Status: delivery.StatusSkipped})
	br := b.browser(t)
	br.signIn()

	p := br.get("/dashboard/deliveries/" + behindBreaker).Body
	require.Contains(t, p, `id="held">held: breaker open<`)
	require.Contains(t, p, probe.UTC().Format("2006-01-02 15:04:05"))
	require.Contains(t, p, "with the endpoint's breaker probe")
	require.Contains(t, p, "its breaker is open; the delivery goes with its next probe")
	require.Contains(t, p, `id="redrive"`, "no job behind it (seeded orphaned): a redrive puts it back on its way")

	p = br.get("/dashboard/deliveries/" + held).Body
	require.Contains(t, p, `id="held">held: endpoint paused<`)
	require.Contains(t, p, "held until the endpoint is resumed")
	require.Contains(t, p, "It is still on its way")

	p = br.get("/dashboard/deliveries/" + skipped).Body
	require.Contains(t, p, `pill-skipped">skipped<`)
	require.Contains(t, p, "the event arrived while the endpoint was disabled")

	list := br.get("/dashboard/deliveries?status=skipped").Body
	require.Equal(t, []string{skipped}, deliveryIDs(list))
	list = br.get("/dashboard/deliveries").Body
	require.Contains(t, list, `title="breaker open">held<`)
	require.Contains(t, list, `(breaker open)`)
	require.Contains(t, list, `title="endpoint paused">held<`)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hiddenFields returns the hidden fields of the post form to action.
func hiddenFields(t *testing.T, body, action string) url.Values {
	t.Helper()
	start := strings.Index(body, `method="post" action="`+action+`"`)
	require.GreaterOrEqual(t, start, 0, "no form posting to %s", action)
	end := strings.Index(body[start:], "</form>")
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body[start:start+end], -1) {
		v.Set(m[1], m[2])
	}
	return v
}

func TestBulkRedrive(t *testing.T) {
	t.Parallel()

	b := setup(t)
	ctx := context.Background()
	acme := dashboardtest.Merchant(t, b.pool, "Acme")
	globex := dashboardtest.Merchant(t, b.pool, "Globex")
	hooks := dashboardtest.Endpoint(t, b.pool, acme, dashboardtest.EndpointOpts{})
	globexHooks := dashboardtest.Endpoint(t, b.pool, globex, dashboardtest.EndpointOpts{})
	failed := func(merchant, endpoint, typ string) {
		dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed, EventType: typ,
			Created: time.Now().Add(-time.Hour), Attempts: []dashboardtest.AttemptOpts{{Status: 500, StartedAt: time.Now()}}})
	}
	for range 3 {
		failed(acme, hooks, webhook.TypeCheckoutSessionCompleted)
	}
	failed(acme, hooks, webhook.TypeChargeFailed)
	failed(globex, globexHooks, webhook.TypeCheckoutSessionCompleted)
	br := b.browser(t)
	token := br.signIn()

	form := br.get("/dashboard/redrives")
	require.Equal(t, http.StatusOK, form.Status)
	require.Contains(t, form.Body, "runs for <strong>one merchant</strong>")
	require.Contains(t, form.Body, "No bulk redrive yet.")

	for _, tt := range []struct {
		name    string
		query   url.Values
		status  int
		message string
	}{
		{"NoMerchant", url.Values{"preview": {"1"}}, http.StatusBadRequest, "Choose a merchant: a bulk redrive runs for one merchant at a time."},
		{"OtherMerchantsEndpoint", url.Values{"preview": {"1"}, "merchant": {acme}, "endpoint": {globexHooks}}, http.StatusBadRequest,
			"This endpoint belongs to another merchant."},
		{"PendingStatus", url.Values{"preview": {"1"}, "merchant": {acme}, "status": {"pending"}}, http.StatusBadRequest, "Unknown status."},
		{"All", url.Values{"preview": {"1"}, "merchant": {acme}}, http.StatusOK, "4 deliveries match"},
		{"EventType", url.Values{"preview": {"1"}, "merchant": {acme}, "event_type": {webhook.TypeChargeFailed}}, http.StatusOK, "1 delivery matches"},
		{"Succeeded", url.Values{"preview": {"1"}, "merchant": {acme}, "status": {"succeeded"}}, http.StatusOK, "0 deliveries match"},
		{"Until", url.Values{"preview": {"1"}, "merchant": {acme}, "until": {"2020-01-01T00:00"}}, http.StatusOK, "0 deliveries match"},
	} {
		p := br.get("/dashboard/redrives?" + tt.query.Encode())
		require.Equal(t, tt.status, p.Status, tt.name)
		require.Contains(t, p.Body, tt.message, tt.name)
	}

	// The dry run changed nothing and started nothing.
	var redrives int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM redrives`).Scan(&redrives))
	require.Zero(t, redrives)

	preview := br.get("/dashboard/redrives?" + url.Values{"preview": {"1"}, "merchant": {acme},
		"event_type": {webhook.TypeCheckoutSessionCompleted}}.Encode())
	require.Contains(t, preview.Body, `id="preview-count">3 deliveries match`)
	require.Contains(t, preview.Body, "Redrive 3 deliveries")
	fields := hiddenFields(t, preview.Body, "/dashboard/redrives")
	require.Equal(t, url.Values{"csrf_token": {token}, "merchant": {acme}, "status": {"failed"},
		"event_type": {webhook.TypeCheckoutSessionCompleted}}, fields)

	started := br.post("/dashboard/redrives", fields)
	require.Equal(t, http.StatusSeeOther, started.Status, started.Body)
	redriveID := strings.TrimPrefix(started.Location, "/dashboard/redrives/")
	require.True(t, strings.HasPrefix(redriveID, "rdr_"), started.Location)

	progress := br.get(started.Location)
	require.Equal(t, http.StatusOK, progress.Status)
	for _, want := range []string{"queued", "0 of 3 deliveries sent again", `<meta http-equiv="refresh" content="2">`,
		`id="cancel-redrive"`, webhook.TypeCheckoutSessionCompleted, "Acme"} {
		require.Contains(t, progress.Body, want)
	}
	var jobs int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'herald.redrive'`).Scan(&jobs))
	require.Equal(t, 1, jobs, "the durable job is enqueued")
	require.Contains(t, br.get("/dashboard/redrives").Body, redriveID, "listed among the recent redrives")

	p := br.post("/dashboard/redrives/"+redriveID+"/cancel", url.Values{"csrf_token": {token}})
	require.Equal(t, "/dashboard/redrives/"+redriveID+"?notice=canceled", p.Location)
	canceled := br.get(p.Location)
	require.Contains(t, canceled.Body, "Redrive canceled.")
	require.NotContains(t, canceled.Body, `id="cancel-redrive"`)
	require.NotContains(t, canceled.Body, `http-equiv="refresh"`)
	p = br.post("/dashboard/redrives/"+redriveID+"/cancel", url.Values{"csrf_token": {token}})
	require.Equal(t, "/dashboard/redrives/"+redriveID+"?notice=finished", p.Location)

	// Posting without a merchant is refused like the preview.
	p = br.post("/dashboard/redrives", url.Values{"csrf_token": {token}, "status": {"failed"}})
	require.Equal(t, http.StatusBadRequest, p.Status)
	require.Contains(t, p.Body, "Choose a merchant")

	entries := b.audit(t)
	require.Equal(t, dashboard.ActionRedriveCancel, entries[0].Action)
	require.Equal(t, dashboard.OutcomeFailed, entries[0].Outcome)
	require.Equal(t, "redrive already finished", entries[0].Result)
	require.Equal(t, dashboard.ActionRedriveCancel, entries[1].Action)
	require.Equal(t, dashboard.OutcomeSucceeded, entries[1].Outcome)
	require.Equal(t, redriveID, entries[1].Target)
	create := entries[2]
	require.Equal(t, dashboard.ActionRedriveCreate, create.Action)
	require.Equal(t, redriveID, create.Target)
	require.Equal(t, acme, create.MerchantID)
	require.Equal(t, map[string]string{"merchant": acme, "status": "failed", "event_type": webhook.TypeCheckoutSessionCompleted}, create.Detail)
	require.Equal(t, "started for 3 deliveries", create.Result)

	for _, path := range []string{"/dashboard/redrives/rdr_unknown", "/dashboard/redrives/dlv_wrongkind"} {
		require.Equal(t, http.StatusNotFound, br.get(path).Status)
	}
}
