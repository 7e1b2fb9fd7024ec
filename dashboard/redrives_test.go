package dashboard_test

import (
	"context"
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
	"github.com/heraldpay/herald/webhook"
)

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
