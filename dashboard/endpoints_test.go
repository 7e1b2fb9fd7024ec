package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
		{url.Values{"state": {dashboard.StateAttention}}, []string{disabled, open, paused}},
		{url.Values{"state": {dashboard.StateEnabled}}, []string{open, healthy}},
		{url.Values{"state": {dashboard.StatePaused}}, []string{paused}},
		{url.Values{"state": {dashboard.StateDisabled}}, []string{disabled}},
		{url.Values{"state": {dashboard.StateBreakerOpen}, "merchant": {globex}}, []string{open}},
		{url.Values{"state": {dashboard.StatePaused}, "merchant": {globex}}, nil},
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
