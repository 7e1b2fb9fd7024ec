package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
)

// A state-changing request needs this session's form token and must not
// come from another site; a refused one changes nothing and is not audited.
func TestCSRFRejected(t *testing.T) {
	t.Parallel()

	b := setup(t)
	merchant := dashboardtest.Merchant(t, b.pool, "Acme")
	endpoint := dashboardtest.Endpoint(t, b.pool, merchant, dashboardtest.EndpointOpts{})
	deliveryID := dashboardtest.Delivery(t, b.pool, merchant, endpoint, dashboardtest.DeliveryOpts{Status: delivery.StatusFailed,
		Attempts: []dashboardtest.AttemptOpts{{Status: 500, StartedAt: time.Now()}}})
	br := b.browser(t)
	token := br.signIn()
	otherToken := b.browser(t).signIn()
	path := "/dashboard/deliveries/" + deliveryID + "/redrive"

	for _, tt := range []struct {
		name    string
		token   string
		headers []string
		message string
	}{
		{"NoToken", "", nil, "This form has expired"},
		{"WrongToken", token + "x", nil, "This form has expired"},
		{"AnotherSessionsToken", otherToken, nil, "This form has expired"},
		{"CrossSite", token, []string{"Sec-Fetch-Site", "cross-site"}, "Request refused"},
		{"SameSiteOtherOrigin", token, []string{"Sec-Fetch-Site", "same-site"}, "Request refused"},
		{"ForeignOrigin", token, []string{"Origin", "https://evil.example"}, "Request refused"},
	} {
		p := br.post(path, url.Values{"csrf_token": {tt.token}}, tt.headers...)
		require.Equal(t, http.StatusForbidden, p.Status, tt.name)
		require.Contains(t, p.Body, tt.message, tt.name)
	}
	var status string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT status FROM deliveries WHERE id = $1`, deliveryID).Scan(&status))
	require.Equal(t, "failed", status, "nothing was redriven")
	for _, e := range b.audit(t) {
		require.NotEqual(t, dashboard.ActionDeliveryRedrive, e.Action)
	}

	p := br.post(path, url.Values{"csrf_token": {token}}, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, dashboard.ActionDeliveryRedrive, b.audit(t)[0].Action)
}

// The sign-in form is protected too: no other site can sign a browser in.
func TestSignInCrossSiteRejected(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	form := br.get("/dashboard/login")
	p := br.post("/dashboard/login", url.Values{"csrf_token": {formToken(t, form.Body)}, "operator": {"Ada"}, "password": {testPassword}},
		"Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, p.Status)
	requireSignInPage(t, br.get("/dashboard/"))
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()

	b := setup(t, func(c *dashboard.Config) { c.SecureCookies = true })
	br := b.browser(t)
	form := br.get("/dashboard/login")
	require.Contains(t, form.Header.Get("Set-Cookie"), "; Secure")
	p := br.post("/dashboard/login", url.Values{"csrf_token": {formToken(t, form.Body)}, "operator": {"Ada"}, "password": {testPassword}})
	require.Equal(t, http.StatusSeeOther, p.Status)
	require.Contains(t, p.Header.Get("Set-Cookie"), "; Secure")
}
