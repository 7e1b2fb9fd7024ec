package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
	"github.com/heraldpay/herald/delivery"
)

func TestSignIn(t *testing.T) {
	t.Parallel()

	b := setup(t)
	for _, tt := range []struct {
		name     string
		operator string
		password string
		token    func(string) string
		status   int
		message  string
	}{
		{"WrongPassword", "Ada", "hunter2", nil, http.StatusUnauthorized, "That password is not right."},
		{"PasswordPrefix", "Ada", testPassword[:10], nil, http.StatusUnauthorized, "That password is not right."},
		{"NoName", "  ", testPassword, nil, http.StatusUnprocessableEntity, "Enter your name"},
		{"NameTooLong", strings.Repeat("a", 65), testPassword, nil, http.StatusUnprocessableEntity, "Enter your name"},
		{"NoToken", "Ada", testPassword, func(string) string { return "" }, http.StatusForbidden, "This sign-in form has expired"},
		{"WrongToken", "Ada", testPassword, func(s string) string { return s + "x" }, http.StatusForbidden, "This sign-in form has expired"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			br := b.browser(t)
			token := formToken(t, br.get("/dashboard/login").Body)
			if tt.token != nil {
				token = tt.token(token)
			}
			p := br.post("/dashboard/login", url.Values{"csrf_token": {token}, "operator": {tt.operator}, "password": {tt.password}})
			require.Equal(t, tt.status, p.Status, p.Body)
			require.Contains(t, p.Body, tt.message)
			requireSignInPage(t, br.get("/dashboard/"))
		})
	}

	t.Run("Right", func(t *testing.T) {
		t.Parallel()

		br := b.browser(t)
		form := br.get("/dashboard/login?next=" + url.QueryEscape("/dashboard/deliveries?status=failed"))
		p := br.post("/dashboard/login", url.Values{"csrf_token": {formToken(t, form.Body)}, "operator": {"Grace Hopper"},
			"password": {testPassword}, "next": {"/dashboard/deliveries?status=failed"}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		require.Equal(t, "/dashboard/deliveries?status=failed", p.Location, "back where the operator was going")
		cookie := p.Header.Get("Set-Cookie")
		for _, attr := range []string{"herald_dashboard=", "Path=/dashboard", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
			require.Contains(t, cookie, attr)
		}
		require.NotContains(t, cookie, "Secure", "served over http here")

		overview := br.get("/dashboard/")
		require.Equal(t, http.StatusOK, overview.Status)
		require.Contains(t, overview.Body, "Grace Hopper")
		require.Equal(t, "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
			overview.Header.Get("Content-Security-Policy"))
		require.Equal(t, "DENY", overview.Header.Get("X-Frame-Options"))
		require.Equal(t, "no-store", overview.Header.Get("Cache-Control"))

		found := false
		for _, e := range b.audit(t) {
			if e.Action == dashboard.ActionSignIn && e.Operator == "Grace Hopper" {
				found = true
				require.Equal(t, dashboard.OutcomeSucceeded, e.Outcome)
				require.True(t, strings.HasPrefix(e.SessionID, "dss_"))
				require.Equal(t, "127.0.0.1", e.ClientIP)
				require.Equal(t, "Go-http-client/1.1", e.UserAgent)
			}
		}
		require.True(t, found, "the sign-in is audited")
	})
}

// A failed sign-in is audited with the name that was tried.
func TestSignInFailureAudited(t *testing.T) {
	t.Parallel()

	b := setup(t)
	p := b.browser(t).signInAs("Mallory", "guess")
	require.Equal(t, http.StatusUnauthorized, p.Status)
	entries := b.audit(t)
	require.Len(t, entries, 1)
	require.Equal(t, dashboard.ActionSignInFailed, entries[0].Action)
	require.Equal(t, "Mallory", entries[0].Operator)
	require.Equal(t, dashboard.OutcomeFailed, entries[0].Outcome)
	require.Empty(t, entries[0].SessionID)
}

// After SignInRate attempts in a minute, the next is refused, even with the
// right password.
func TestSignInRateLimited(t *testing.T) {
	t.Parallel()

	b := setup(t, func(c *dashboard.Config) { c.SignInRate = 5 })
	br := b.browser(t)
	for range 5 {
		require.Equal(t, http.StatusUnauthorized, br.signInAs("Mallory", "guess").Status)
	}
	p := br.signInAs("Ada", testPassword)
	require.Equal(t, http.StatusTooManyRequests, p.Status)
	require.Contains(t, p.Body, "Too many sign-in attempts from your address. Wait a minute, then try again.")
	require.NotEmpty(t, p.Header.Get("Retry-After"))
	requireSignInPage(t, br.get("/dashboard/"))
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		// steps are the pauses between requests; the last request finds
		// the session over.
		steps []time.Duration
	}{
		{"Idle", []time.Duration{59 * time.Minute, 61 * time.Minute}},
		{"Absolute", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute,
			50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute,
			50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			b := setup(t)
			br := b.browser(t)
			br.signIn()
			for i, step := range tt.steps {
				b.clock.Advance(step)
				p := br.get("/dashboard/deliveries")
				if i < len(tt.steps)-1 {
					require.Equal(t, http.StatusOK, p.Status, "step %d", i)
					continue
				}
				require.Equal(t, http.StatusSeeOther, p.Status)
				require.Equal(t, "/dashboard/login?"+url.Values{"next": {"/dashboard/deliveries"}, "notice": {"expired"}}.Encode(), p.Location)
				require.Contains(t, p.Header.Get("Set-Cookie"), "Max-Age=0", "the cookie is cleared")
			}
			var sessions int
			require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM dashboard_sessions`).Scan(&sessions))
			require.Zero(t, sessions, "the ended session is deleted")
			login := br.get("/dashboard/login?notice=expired")
			require.Contains(t, login.Body, "Your session has ended. Sign in again to continue.")
		})
	}
}

func TestSignOut(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	token := br.signIn()
	cookies := br.client.Jar.Cookies(mustParse(t, b.srv.URL+"/dashboard/"))

	p := br.post("/dashboard/logout", url.Values{"csrf_token": {token}})
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, "/dashboard/login?notice=signed_out", p.Location)
	require.Contains(t, br.get(p.Location).Body, "You have signed out.")
	requireSignInPage(t, br.get("/dashboard/"))

	// The old cookie, replayed, is worth nothing: the session is gone.
	replay := b.browser(t)
	replay.client.Jar.SetCookies(mustParse(t, b.srv.URL+"/dashboard/"), cookies)
	requireSignInPage(t, replay.get("/dashboard/"))
	require.Equal(t, dashboard.ActionSignOut, b.audit(t)[0].Action)
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u
}

// Without a session every page, River UI included, answers with the sign-in
// page and nothing behind it runs.
func TestRequiresSession(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	for _, path := range []string{
		"/dashboard", "/dashboard/", "/dashboard/deliveries?status=failed", "/dashboard/deliveries/dlv_x", "/dashboard/redrives",
		"/dashboard/redrives/rdr_x", "/dashboard/endpoints", "/dashboard/audit", "/dashboard/no-such-page",
		"/dashboard/river", "/dashboard/river/", "/dashboard/river/jobs", "/dashboard/river/api/jobs",
	} {
		p := br.get(path)
		requireSignInPage(t, p)
		if strings.HasPrefix(path, "/dashboard/river/api/") {
			require.Equal(t, http.StatusUnauthorized, p.Status, "an API call gets a 401, not a redirect")
		}
	}
	p := br.get("/dashboard/deliveries?status=failed")
	require.Equal(t, "/dashboard/login?next="+url.QueryEscape("/dashboard/deliveries?status=failed"), p.Location)

	for _, path := range []string{"/dashboard/logout", "/dashboard/deliveries/dlv_x/redrive", "/dashboard/redrives",
		"/dashboard/endpoints/we_x/pause", "/dashboard/river/api/jobs/cancel"} {
		requireSignInPage(t, br.post(path, url.Values{"csrf_token": {"x"}}))
	}
	require.Zero(t, b.riverHits.Load(), "River UI was never reached")

	br.signIn()
	p = br.get("/dashboard/river/jobs")
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "River UI at /dashboard/river/jobs", p.Body)
	require.Equal(t, "DENY", p.Header.Get("X-Frame-Options"))
	require.Contains(t, p.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
}

func TestSafeRedirectAfterSignIn(t *testing.T) {
	t.Parallel()

	b := setup(t)
	for _, tt := range []struct{ next, want string }{
		{"/dashboard/endpoints?state=paused", "/dashboard/endpoints?state=paused"},
		{"https://evil.example/dashboard/", "/dashboard/"},
		{"//evil.example/dashboard/", "/dashboard/"},
		{"/\\evil.example", "/dashboard/"},
		{"/dashboard/../v1/checkout/sessions", "/dashboard/"},
		{"/dashboardx", "/dashboard/"},
		{"", "/dashboard/"},
	} {
		br := b.browser(t)
		form := br.get("/dashboard/login")
		p := br.post("/dashboard/login", url.Values{"csrf_token": {formToken(t, form.Body)}, "operator": {"Ada"},
			"password": {testPassword}, "next": {tt.next}})
		require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
		require.Equal(t, tt.want, p.Location, "next=%q", tt.next)
	}
}

// Without a password the dashboard only says how to turn it on.
func TestDisabled(t *testing.T) {
	t.Parallel()

	r := chi.NewRouter()
	dashboard.RegisterDisabled(r, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, path := range []string{"/dashboard", "/dashboard/", "/dashboard/login", "/dashboard/river/", "/dashboard/deliveries"} {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		require.Contains(t, string(body), "Set HERALD_DASHBOARD_PASSWORD", path)
	}
	resp, err := http.Post(srv.URL+"/dashboard/login", "application/x-www-form-urlencoded", strings.NewReader("password=x"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

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
