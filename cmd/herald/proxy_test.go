package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
)

func TestTrustedProxiesSetting(t *testing.T) {
	t.Parallel()

	base := map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": "dev"}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
		err  string
	}{
		{"NoneByDefault", base, nil, nil, ""},
		{"Env", map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": "dev", "HERALD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}, nil,
			[]string{"10.0.0.0/8", "192.0.2.7/32"}, ""},
		{"Flag", base, []string{"--trusted-proxies", "fd00::/8"}, []string{"fd00::/8"}, ""},
		{"Invalid", base, []string{"--trusted-proxies", "10.0.0.0/8,lb.internal"}, nil,
			`invalid HERALD_TRUSTED_PROXIES "10.0.0.0/8,lb.internal": "lb.internal" is neither a CIDR nor an IP address`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			cfg, ok := parseSetting(t, tt.env, tt.args, tt.err)
			if !ok {
				return
			}
			var got []string
			for _, p := range cfg.TrustedProxies {
				got = append(got, p.String())
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// proxyHop is a reverse proxy on the loopback address ip that forwards to
// target from ip, appending its peer's address to X-Forwarded-For, as a
// load balancer does. On Linux all of 127.0.0.0/8 is loopback, so each hop
// and each customer has an address of its own.
func proxyHop(t *testing.T, ip, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	transport := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	rp.Transport = transport
	ln, err := net.Listen("tcp", ip+":0")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(rp)
	require.NoError(t, srv.Listener.Close())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// customer is a browser-like client (cookies, redirects not followed)
// whose connections come from ip.
func customer(t *testing.T, ip string) *http.Client {
	t.Helper()
	c := clientFrom(t, ip)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// Herald (the real binary) behind two trusted proxies, a CDN edge and a
// load balancer: every customer arrives from the balancer's address, yet
// the fraud rules, the API's failed-authentication limit, the dashboard's
// sign-in limit and its audit log each see the customer's own. A customer
// who spoofs X-Forwarded-For gains nothing, through the proxies or around
// them.
func TestBehindTrustedProxies(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL, pool, key := merchantDB(t)
	herald := newHeraldProcess(t, dbURL, "HERALD_ENV=dev", "HERALD_ROLES=api", "HERALD_TRUSTED_PROXIES=127.0.0.2, 127.0.0.3",
		"HERALD_AUTH_FAILURE_LIMIT=3", "HERALD_DASHBOARD_PASSWORD="+dashboardPassword)
	herald.start(t)
	balancer := proxyHop(t, "127.0.0.2", herald.url())
	edge := proxyHop(t, "127.0.0.3", balancer)
	alice, bob, carol := customer(t, "127.0.0.10"), customer(t, "127.0.0.11"), customer(t, "127.0.0.12")

	// pay opens a new session's page at base and pays it with number.
	pay := func(c *http.Client, base, number string, headers ...string) (int, string) {
		t.Helper()
		created := callAt(t, herald.url(), http.MethodPost, "/v1/checkout/sessions", key, sessionBody())
		require.Equal(t, http.StatusOK, created.Status, created.Raw)
		payURL := base + "/pay/" + created.Body["id"].(string)
		resp, body := postForm(t, c, payURL, payForm(openForm(t, c, payURL), number), headers...)
		return resp.StatusCode, body
	}

	t.Run("FraudRules", func(t *testing.T) {
		// Alice declines five times, and adds a spoofed address of her own.
		for _, card := range []string{checkout.TestCardDeclined, checkout.TestCardInsufficientFunds, checkout.TestCardExpired,
			checkout.TestCardIncorrectCVC, checkout.TestCardDeclined} {
			status, body := pay(alice, edge, card, "X-Forwarded-For", "203.0.113.99")
			require.Equal(t, http.StatusPaymentRequired, status, body)
		}
		// Bob, behind the same balancer, is not blocked by her.
		status, body := pay(bob, edge, checkout.TestCardVisa)
		require.Equal(t, http.StatusSeeOther, status, body)
		// Alice is.
		status, body = pay(alice, edge, checkout.TestCardVisa)
		require.Equal(t, http.StatusPaymentRequired, status)
		require.Contains(t, body, "blocked by ip_decline_velocity: 5 declines from your network in the last 10 minutes")
		// Carol goes around the proxies and claims to be Alice: an
		// untrusted peer's header is ignored, so she is Carol, unblocked.
		status, body = pay(carol, herald.url(), checkout.TestCardVisa, "X-Forwarded-For", "127.0.0.10")
		require.Equal(t, http.StatusSeeOther, status, body)

		rows, err := pool.Query(ctx, `SELECT host(client_ip), count(*) FROM charges GROUP BY 1`)
		require.NoError(t, err)
		got := map[string]int{}
		var (
			ip string
			n  int
		)
		for rows.Next() {
			require.NoError(t, rows.Scan(&ip, &n))
			got[ip] = n
		}
		require.NoError(t, rows.Err())
		require.Equal(t, map[string]int{"127.0.0.10": 6, "127.0.0.11": 1, "127.0.0.12": 1}, got,
			"each charge has its customer's address: never a proxy's, never a spoof")
	})

	t.Run("AuthFailureLimit", func(t *testing.T) {
		call := func(c *http.Client, key string) int {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, edge+"/v1/checkout/sessions", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		for range 3 {
			require.Equal(t, http.StatusUnauthorized, call(alice, "sk_test_guess"))
		}
		require.Equal(t, http.StatusTooManyRequests, call(alice, key), "Alice has used up her failures")
		require.Equal(t, http.StatusUnauthorized, call(bob, "sk_test_guess"), "Bob, behind the same balancer, has not")
		require.Equal(t, http.StatusOK, call(bob, key))
	})

	t.Run("DashboardSignIn", func(t *testing.T) {
		signIn := func(c *http.Client, operator, password string) int {
			t.Helper()
			resp, err := c.Get(edge + "/dashboard/login")
			require.NoError(t, err)
			page, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			m := csrfRE.FindStringSubmatch(string(page))
			require.NotNil(t, m, string(page))
			r, _ := postForm(t, c, edge+"/dashboard/login", url.Values{"csrf_token": {m[1]}, "operator": {operator},
				"password": {password}, "next": {"/dashboard/"}})
			return r.StatusCode
		}
		for range 10 {
			require.Equal(t, http.StatusUnauthorized, signIn(alice, "Mallory", "guess"))
		}
		require.Equal(t, http.StatusTooManyRequests, signIn(alice, "Mallory", dashboardPassword), "ten a minute from her address")
		require.Equal(t, http.StatusSeeOther, signIn(bob, "Ada", dashboardPassword), "Bob's address has its own allowance")

		var sessionIP string
		require.NoError(t, pool.QueryRow(ctx, `SELECT client_ip FROM dashboard_sessions WHERE operator = 'Ada'`).Scan(&sessionIP))
		require.Equal(t, "127.0.0.11", sessionIP)
		rows, err := pool.Query(ctx, `SELECT action, client_ip, count(*) FROM dashboard_audit GROUP BY 1, 2 ORDER BY 1`)
		require.NoError(t, err)
		type entry struct {
			action, ip string
			n          int
		}
		var got []entry
		for rows.Next() {
			var e entry
			require.NoError(t, rows.Scan(&e.action, &e.ip, &e.n))
			got = append(got, e)
		}
		require.NoError(t, rows.Err())
		require.Equal(t, []entry{{"session.sign_in", "127.0.0.11", 1}, {"session.sign_in_failed", "127.0.0.10", 10}}, got)
	})
}
