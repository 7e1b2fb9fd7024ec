package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout/checkoutpg"
	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/dashboardpg"
	"github.com/heraldpay/herald/internal/clocktest"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/servicetest"
)

const testPassword = "correct horse battery staple"

// testBundle is a dashboard on a real database, served over HTTP, with a
// stand-in for River UI that counts its requests (and refuses paths ending
// in /broken).
type testBundle struct {
	srv       *httptest.Server
	pool      *pgxpool.Pool
	store     *dashboardpg.Store
	clock     *clocktest.Clock
	riverHits *atomic.Int32
	checkout  *checkoutpg.Service
}

func setup(t *testing.T, mutate ...func(*dashboard.Config)) *testBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	b := &testBundle{pool: pool, store: dashboardpg.New(pool), clock: clocktest.New(time.Now()), riverHits: &atomic.Int32{}}
	// The payments service is the real one, on the dashboard's clock, with
	// the test acquirer: the payments pages show charges it made.
	services := servicetest.New(t, pool, b.clock.Now, nil)
	svc := services.Delivery
	b.checkout = services.Checkout
	riverUI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.riverHits.Add(1)
		if strings.HasSuffix(r.URL.Path, "/broken") {
			http.Error(w, "no such job", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "River UI at "+r.URL.Path)
	})
	cfg := dashboard.Config{
		Password: testPassword, Key: []byte("dashboard test key"),
		Sessions: b.store, Audit: b.store, Reads: b.store, Deliveries: svc, Endpoints: svc, Payments: b.checkout,
		Keys:    services.Accounts,
		RiverUI: riverUI, SignInRate: 1000, Now: b.clock.Now,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, nil)),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	d := dashboard.New(cfg)
	r := chi.NewRouter()
	r.Use(httpapi.RequestIDs)
	d.Register(r)
	b.srv = httptest.NewServer(r)
	t.Cleanup(b.srv.Close)
	return b
}

// testLog shows the dashboard's log lines with the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser is an HTTP client with cookies that does not follow redirects.
type browser struct {
	t      *testing.T
	b      *testBundle
	client *http.Client
}

func (b *testBundle) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, b: b, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// page is an answer.
type page struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func (br *browser) do(req *http.Request) page {
	br.t.Helper()
	resp, err := br.client.Do(req)
	require.NoError(br.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(br.t, err)
	return page{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Location: resp.Header.Get("Location")}
}

func (br *browser) get(path string) page {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodGet, br.b.srv.URL+path, nil)
	require.NoError(br.t, err)
	req.Header.Set("Accept", "text/html")
	return br.do(req)
}

// post sends a form; headers are name, value pairs.
func (br *browser) post(path string, form url.Values, headers ...string) page {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodPost, br.b.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(br.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return br.do(req)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// formToken returns the first form token on a page.
func formToken(t *testing.T, body string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(body)
	require.NotNil(t, m, "no form token in %s", body)
	return m[1]
}

// signInAs posts the sign-in form and returns the answer.
func (br *browser) signInAs(name, password string) page {
	br.t.Helper()
	form := br.get("/dashboard/login")
	require.Equal(br.t, http.StatusOK, form.Status)
	return br.post("/dashboard/login", url.Values{"csrf_token": {formToken(br.t, form.Body)}, "operator": {name},
		"password": {password}, "next": {"/dashboard/"}})
}

// signIn signs in as Ada and returns the session's form token.
func (br *browser) signIn() string {
	br.t.Helper()
	p := br.signInAs("Ada", testPassword)
	require.Equal(br.t, http.StatusSeeOther, p.Status, p.Body)
	return formToken(br.t, br.get("/dashboard/").Body)
}

// requireSignInPage asserts that p sends the browser to sign in.
func requireSignInPage(t *testing.T, p page) {
	t.Helper()
	if p.Status == http.StatusSeeOther {
		require.True(t, strings.HasPrefix(p.Location, "/dashboard/login?"), p.Location)
		return
	}
	require.Equal(t, http.StatusUnauthorized, p.Status, p.Body)
	require.Contains(t, p.Body, `id="sign-in"`)
}

// audit returns the audit log, newest first.
func (b *testBundle) audit(t *testing.T) []dashboard.AuditEntry {
	t.Helper()
	entries, _, err := b.store.ListAudit(context.Background(), 100, 0)
	require.NoError(t, err)
	return entries
}

var deliveryLinkRE = regexp.MustCompile(`href="/dashboard/deliveries/(dlv_[0-9A-Za-z]+)"`)

// deliveryIDs lists the deliveries a list page links to, in order.
func deliveryIDs(body string) []string { return linkedIDs(deliveryLinkRE, body) }

// linkedIDs lists the ids (linkRE's group) of the links of a list page, in
// order.
func linkedIDs(linkRE *regexp.Regexp, body string) []string {
	var out []string
	for _, m := range linkRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}
