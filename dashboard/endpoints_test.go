package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
)

func TestEndpointActions(t *testing.T) {
	t.Parallel()

	b := setup(t)
	ctx := context.Background()
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://acme.example/hooks"})
	gone := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://acme.example/old",
		Status: delivery.EndpointDisabled, DisabledReason: delivery.DisabledReasonGone})
	br := b.browser(t)
	token := br.signIn()

	list := br.get("/dashboard/endpoints")
	require.Equal(t, http.StatusOK, list.Status)
	require.Contains(t, list.Body, `id="pause-`+endpoint+`"`)
	require.Contains(t, list.Body, `id="enable-`+gone+`"`)
	require.Contains(t, list.Body, delivery.DisabledReasonGone)

	state := func(endpointID string) (string, bool) {
		var status string
		var paused bool
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT status, paused FROM webhook_endpoints WHERE id = $1`, endpointID).Scan(&status, &paused))
		return status, paused
	}
	returnTo := "/dashboard/endpoints?state=attention"
	for _, tt := range []struct {
		endpoint, action, notice string
		status                   string
		paused                   bool
		audit                    string
	}{
		{endpoint, "pause", "paused", "enabled", true, dashboard.ActionEndpointPause},
		{endpoint, "resume", "resumed", "enabled", false, dashboard.ActionEndpointResume},
		{gone, "enable", "enabled", "enabled", false, dashboard.ActionEndpointEnable},
	} {
		p := br.post("/dashboard/endpoints/"+tt.endpoint+"/"+tt.action, url.Values{"csrf_token": {token}, "return_to": {returnTo}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		require.Equal(t, "/dashboard/endpoints?notice="+tt.notice+"&state=attention", p.Location)
		status, paused := state(tt.endpoint)
		require.Equal(t, tt.status, status, tt.action)
		require.Equal(t, tt.paused, paused, tt.action)
		e := b.audit(t)[0]
		require.Equal(t, tt.audit, e.Action)
		require.Equal(t, tt.endpoint, e.Target)
		require.Equal(t, merchant, e.MerchantID)
		require.Equal(t, dashboard.OutcomeSucceeded, e.Outcome)
	}

	// A return address elsewhere is not followed.
	p := br.post("/dashboard/endpoints/"+endpoint+"/pause", url.Values{"csrf_token": {token}, "return_to": {"https://evil.example/"}})
	require.Equal(t, "/dashboard/?notice=paused", p.Location)
	for _, path := range []string{"/dashboard/endpoints/" + endpoint + "/delete", "/dashboard/endpoints/we_unknown/pause",
		"/dashboard/endpoints/dlv_x/pause"} {
		require.Equal(t, http.StatusNotFound, br.post(path, url.Values{"csrf_token": {token}}).Status, path)
	}
}

func TestEndpointList(t *testing.T) {
	t.Parallel()

	b := setup(t)
	acme := dashboardtest.Merchant(t, b.pool, "Acme")
	globex := dashboardtest.Merchant(t, b.pool, "Globex")
	now := time.Now()
	healthy := dashboardtest.Endpoint(t, b.pool, acme, dashboardtest.EndpointOpts{Created: now.Add(-4 * time.Hour)})
	paused := dashboardtest.Endpoint(t, b.pool, acme, dashboardtest.EndpointOpts{Paused: true, Created: now.Add(-3 * time.Hour)})
	probe := now.Add(time.Minute)
	open := dashboardtest.Endpoint(t, b.pool, globex, dashboardtest.EndpointOpts{BreakerState: delivery.BreakerOpen, NextProbeAt: &probe,
		Created: now.Add(-2 * time.Hour)})
	disabled := dashboardtest.Endpoint(t, b.pool, globex, dashboardtest.EndpointOpts{Status: delivery.EndpointDisabled,
		DisabledReason: delivery.DisabledReasonManual, Created: now.Add(-time.Hour)})
	// healthy: 3 delivered, 1 failed for good: 75 %.
	for i, status := range []int{200, 200, 500, 204} {
		st := delivery.StatusSucceeded
		if status >= 300 {
			st = delivery.StatusFailed
		}
		dashboardtest.Delivery(t, b.pool, acme, healthy, dashboardtest.DeliveryOpts{Status: st, Created: now.Add(time.Duration(-i) * time.Minute),
			Attempts: []dashboardtest.AttemptOpts{{Status: status, StartedAt: now}}})
	}
	br := b.browser(t)
	br.signIn()

	endpointIDs := func(body string) []string {
		var out []string
		for _, id := range []string{disabled, open, paused, healthy} {
			if strings.Contains(body, `id="endpoint-`+id+`"`) {
				out = append(out, id)
			}
		}
		return out
	}
	for _, tt := range []struct {
		query url.Values
		want  []string
	}{
		{nil, []string{disabled, open, paused, healthy}},
		{url.Values{"merchant": {acme}}, []string{paused, healthy}},
		{url.Values{"state": {string(dashboard.StateAttention)}}, []string{disabled, open, paused}},
		{url.Values{"state": {string(dashboard.StateEnabled)}}, []string{open, healthy}},
		{url.Values{"state": {string(dashboard.StatePaused)}}, []string{paused}},
		{url.Values{"state": {string(dashboard.StateDisabled)}}, []string{disabled}},
		{url.Values{"state": {string(dashboard.StateBreakerOpen)}, "merchant": {globex}}, []string{open}},
		{url.Values{"state": {string(dashboard.StatePaused)}, "merchant": {globex}}, nil},
	} {
		p := br.get("/dashboard/endpoints?" + tt.query.Encode())
		require.Equal(t, http.StatusOK, p.Status, tt.query)
		require.Equal(t, tt.want, endpointIDs(p.Body), tt.query)
		if tt.want == nil {
			require.Contains(t, p.Body, "No endpoint matches these filters.")
		}
	}
	p := br.get("/dashboard/endpoints?merchant=" + acme)
	require.Contains(t, p.Body, "75.0%")
	require.Contains(t, p.Body, "of 4 deliveries")
	require.Contains(t, br.get("/dashboard/endpoints").Body, "next probe in ")
	require.Equal(t, http.StatusBadRequest, br.get("/dashboard/endpoints?state=sleeping").Status)
}

// A disabled endpoint that missed events offers to send them as it is
// re-enabled (a bulk redrive of its skipped deliveries), beside a plain
// re-enable; an enabled endpoint still holding skipped deliveries offers to
// send them. Both are audited.
func TestEndpointSendMissed(t *testing.T) {
	t.Parallel()

	b := setup(t)
	ctx := context.Background()
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	off := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://acme.example/off",
		Status: delivery.EndpointDisabled, DisabledReason: delivery.DisabledReasonGone})
	back := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://acme.example/back"})
	plain := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{URL: "https://acme.example/plain",
		Status: delivery.EndpointDisabled, DisabledReason: delivery.DisabledReasonManual})
	for range 3 {
		dashboardtest.Delivery(t, b.pool, merchant, off, dashboardtest.DeliveryOpts{Status: delivery.StatusSkipped})
	}
	dashboardtest.Delivery(t, b.pool, merchant, back, dashboardtest.DeliveryOpts{Status: delivery.StatusSkipped})
	dashboardtest.Delivery(t, b.pool, merchant, plain, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed})
	br := b.browser(t)
	token := br.signIn()

	list := br.get("/dashboard/endpoints").Body
	require.Contains(t, list, `id="enable_send-`+off+`"`)
	require.Contains(t, list, "Re-enable and send the 3 events it missed")
	require.Contains(t, list, `id="enable-`+off+`"`)
	require.Contains(t, list, "Re-enable only")
	require.Contains(t, list, `id="send_missed-`+back+`"`)
	require.Contains(t, list, "Send the 1 event it missed")
	require.Contains(t, list, `id="enable-`+plain+`"`, "nothing missed: a plain re-enable")
	require.NotContains(t, list, `id="enable_send-`+plain+`"`)

	redrives := func(endpointID string) []string {
		rows, err := b.pool.Query(ctx, `SELECT filter->>'status' || ' ' || matched FROM redrives WHERE filter->>'endpoint_id' = $1`, endpointID)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	p := br.post("/dashboard/endpoints/"+off+"/enable_send", url.Values{"csrf_token": {token}, "return_to": {"/dashboard/endpoints"}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, "/dashboard/endpoints?notice=enabled_sending", p.Location)
	require.Contains(t, br.get(p.Location).Body, "A redrive is sending the deliveries it missed")
	var status string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT status FROM webhook_endpoints WHERE id = $1`, off).Scan(&status))
	require.Equal(t, "enabled", status)
	require.Equal(t, []string{"skipped 3"}, redrives(off))
	e := b.audit(t)[0]
	require.Equal(t, dashboard.ActionEndpointEnableAndSend, e.Action)
	require.Equal(t, off, e.Target)
	require.Regexp(t, `^now enabled; redrive rdr_\S+ sends 3 skipped deliveries$`, e.Result)

	p = br.post("/dashboard/endpoints/"+back+"/send_missed", url.Values{"csrf_token": {token}, "return_to": {"/dashboard/endpoints"}})
	require.Equal(t, "/dashboard/endpoints?notice=sending", p.Location)
	require.Equal(t, []string{"skipped 1"}, redrives(back))
	require.Equal(t, dashboard.ActionEndpointSendMissed, b.audit(t)[0].Action)

	p = br.post("/dashboard/endpoints/"+plain+"/enable", url.Values{"csrf_token": {token}, "return_to": {"/dashboard/endpoints"}})
	require.Equal(t, "/dashboard/endpoints?notice=enabled", p.Location)
	require.Empty(t, redrives(plain), "a plain re-enable redrives nothing")
}
