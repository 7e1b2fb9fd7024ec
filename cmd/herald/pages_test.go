package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }

// formClient is a cookie-keeping HTTP client that does not follow
// redirects, so tests see the 303s the browser would follow.
func formClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// openForm loads the payment page and returns its CSRF token.
func openForm(t *testing.T, c *http.Client, payURL string) string {
	t.Helper()
	resp, err := c.Get(payURL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := csrfRE.FindStringSubmatch(string(body))
	require.NotNil(t, m, "the form carries a CSRF token")
	return m[1]
}

func payForm(token, number string) url.Values {
	return url.Values{"csrf_token": {token}, "email": {"jo@example.com"}, "card_number": {number},
		"card_expiry": {"12/34"}, "card_cvc": {"123"}, "cardholder_name": {"Jo Example"}}
}

func postForm(t *testing.T, c *http.Client, target string, form url.Values, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	return resp, string(body)
}

func (f *checkoutFixture) charges(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(), `SELECT count(*) FROM charges`).Scan(&n))
	return n
}

func TestPaymentPageSecurityHeaders(t *testing.T) {
	t.Parallel()

	f := newCheckout(t, func(b map[string]any) {
		b["line_items"] = []map[string]any{{"name": "Mug", "unit_amount": 900, "quantity": 1, "image_url": "https://cdn.shop.test/mug.png"}}
	})
	resp, err := http.Get(f.payURL)
	require.NoError(t, err)
	resp.Body.Close()
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	require.Contains(t, csp, "default-src 'none'")
	require.NotContains(t, csp, "script-src", "no script is allowed at all")
	require.NotContains(t, csp, "unsafe-inline")
	require.Contains(t, csp, "frame-ancestors 'none'")
	require.Contains(t, csp, "img-src 'self' data: https://cdn.shop.test")
	require.Contains(t, csp, "form-action 'self' "+f.shop.URL)
	nonce := regexp.MustCompile(`'nonce-[A-Za-z0-9+/=]{24}'`).FindString(csp)
	require.NotEmpty(t, nonce)
	require.Equal(t, []string{
		"default-src 'none'", "style-src 'self' " + nonce, "img-src 'self' data: https://cdn.shop.test",
		"form-action 'self' " + f.shop.URL, "frame-ancestors 'none'", "base-uri 'none'",
	}, strings.Split(csp, "; "), "exactly these directives")
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	cookie := h.Get("Set-Cookie")
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "SameSite=Lax")
}

func TestPaymentFormCSRF(t *testing.T) {
	t.Parallel()

	f := newCheckout(t)

	t.Run("NoCookie", func(t *testing.T) {
		t.Parallel()

		token := openForm(t, formClient(t), f.payURL)
		resp, body := postForm(t, formClient(t), f.payURL, payForm(token, "4242424242424242"))
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.Contains(t, body, "This page has expired")
	})

	t.Run("WrongToken", func(t *testing.T) {
		t.Parallel()

		c := formClient(t)
		openForm(t, c, f.payURL)
		resp, _ := postForm(t, c, f.payURL, payForm("forged", "4242424242424242"))
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("TokenOfAnotherSession", func(t *testing.T) {
		t.Parallel()

		other := f.ts.call(t, http.MethodPost, "/v1/checkout/sessions", f.key, sessionBody()).Body["url"].(string)
		c := formClient(t)
		openForm(t, c, f.payURL)
		token := openForm(t, c, other)
		resp, _ := postForm(t, c, f.payURL, payForm(token, "4242424242424242"))
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("CrossSiteBrowserPost", func(t *testing.T) {
		t.Parallel()

		c := formClient(t)
		token := openForm(t, c, f.payURL)
		resp, _ := postForm(t, c, f.payURL, payForm(token, "4242424242424242"), "Sec-Fetch-Site", "cross-site")
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("ThreeDSWithoutToken", func(t *testing.T) {
		t.Parallel()

		resp, _ := postForm(t, formClient(t), f.payURL+"/3ds", url.Values{"result": {"authenticated"}})
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("OversizedForm", func(t *testing.T) {
		t.Parallel()

		c := formClient(t)
		form := payForm(openForm(t, c, f.payURL), "4242424242424242")
		form.Set("cardholder_name", strings.Repeat("x", 20<<10))
		resp, _ := postForm(t, c, f.payURL, form)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	require.Zero(t, f.charges(t), "no refused post charged anything")
	require.Equal(t, "open", f.session(t)["status"])
}

// A customer double-clicking Pay sends two posts at once: one charge, and
// both answers send the browser to the success URL.
func TestDoubleSubmitChargesOnce(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newCheckout(t)
	c := formClient(t)
	token := openForm(t, c, f.payURL)

	// The acquirer's ledger is locked, so the first submission to reach the
	// acquirer waits there, holding the session's lock. The ledger is let go
	// once the other submission has either answered or is waiting on a lock
	// too (on the session's; were the session not locked, at the acquirer
	// as well): the race goes the same way on every run.
	hold, err := f.ts.Pool().Begin(ctx)
	require.NoError(t, err)
	defer hold.Rollback(ctx) //nolint:errcheck // released below; a failed test releases it here
	_, err = hold.Exec(ctx, `LOCK TABLE acquirer_ledger IN SHARE MODE`)
	require.NoError(t, err)

	var ready, wg sync.WaitGroup
	var answered atomic.Int32
	start := make(chan struct{})
	locations := make(chan string, 2)
	for range 2 {
		ready.Add(1)
		wg.Go(func() {
			ready.Done()
			<-start
			resp, _ := postForm(t, c, f.payURL, payForm(token, "4242424242424242"))
			answered.Add(1)
			if resp.StatusCode != http.StatusSeeOther {
				t.Errorf("status %d, want 303", resp.StatusCode)
			}
			locations <- resp.Header.Get("Location")
		})
	}
	ready.Wait()
	close(start)
	waitFor(t, 20*time.Second, "both submissions to wait on a lock or answer", func() bool {
		var waiting int32
		require.NoError(t, f.ts.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'
				AND (query LIKE '%acquirer_ledger%' OR query LIKE '%checkout_sessions%')`).Scan(&waiting))
		return waiting+answered.Load() == 2
	})
	require.NoError(t, hold.Rollback(ctx))
	wg.Wait()
	close(locations)
	for loc := range locations {
		require.Equal(t, f.shop.URL+"/success?session_id="+f.sessionID, loc)
	}
	require.Equal(t, 1, f.charges(t))

	// A third, late submission of the same form lands there too.
	resp, _ := postForm(t, c, f.payURL, payForm(token, "4242424242424242"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, f.shop.URL+"/success?session_id="+f.sessionID, resp.Header.Get("Location"))
	require.Equal(t, 1, f.charges(t))
	var completed int
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM events WHERE type = 'checkout.session.completed'`).Scan(&completed))
	require.Equal(t, 1, completed)
}

func TestPaymentFormStates(t *testing.T) {
	t.Parallel()

	t.Run("MissingFields", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		c := formClient(t)
		token := openForm(t, c, f.payURL)
		resp, body := postForm(t, c, f.payURL, url.Values{"csrf_token": {token}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		for _, msg := range []string{"Enter your email address.", "Enter your card number.", "Enter the name on your card."} {
			require.Contains(t, body, msg)
		}
		require.Zero(t, f.charges(t))
	})

	t.Run("PostAfterExpiry", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		c := formClient(t)
		token := openForm(t, c, f.payURL)
		require.Equal(t, http.StatusOK, f.ts.call(t, http.MethodPost, "/v1/checkout/sessions/"+f.sessionID+"/expire", f.key, nil).Status)
		resp, body := postForm(t, c, f.payURL, payForm(token, "4242424242424242"))
		require.Equal(t, http.StatusGone, resp.StatusCode)
		require.Contains(t, body, "This checkout has expired")
		require.NotContains(t, body, `name="card_number"`)
		require.Zero(t, f.charges(t))
	})

	t.Run("ChallengeWithoutPendingCharge", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		c := formClient(t)
		resp, err := c.Get(f.payURL + "/3ds")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/pay/"+f.sessionID, resp.Header.Get("Location"))

		token := openForm(t, c, f.payURL)
		resp, _ = postForm(t, c, f.payURL+"/3ds", url.Values{"csrf_token": {token}, "result": {"authenticated"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "open", f.session(t)["status"])
	})

	t.Run("SessionEmailIsReadOnly", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t, func(b map[string]any) { b["customer_email"] = "buyer@shop.test" })
		c := formClient(t)
		token := openForm(t, c, f.payURL)
		form := payForm(token, "4242424242424242")
		form.Set("email", "someone-else@example.com")
		resp, _ := postForm(t, c, f.payURL, form)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "buyer@shop.test", f.session(t)["customer_email"])
	})
}
