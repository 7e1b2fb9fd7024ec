package checkouthttp_test

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/checkout/checkouthttp"
	"github.com/heraldpay/herald/checkout/checkoutpg"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/servicetest"
)

// Test cards (DESIGN.md).
const (
	cardOK        = "4242 4242 4242 4242"
	cardDeclined  = "4000 0000 0000 0002"
	cardNoFunds   = "4000 0000 0000 9995"
	cardChallenge = "4000 0027 6000 3184"
	cardFraud     = "4100 0000 0000 0019"
)

// testBundle is the hosted payment page on a real server, backed by the
// real checkoutpg.Service and test acquirer on its own database, the
// merchant's branding read through accountpg, and one open session.
type testBundle struct {
	url      string
	pool     *pgxpool.Pool
	svc      *checkoutpg.Service
	merchant account.Merchant
	session  *checkout.Session
	// skew moves the pages' and the service's clock ahead of time.Now.
	skew atomic.Int64
}

func (b *testBundle) now() time.Time { return time.Now().Add(time.Duration(b.skew.Load())) }

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.NewPool(t)
	logger := slog.New(slog.DiscardHandler)
	b := &testBundle{pool: pool}
	services := servicetest.New(t, pool, b.now, logger)
	b.svc = services.Checkout
	var err error
	b.merchant, _, err = services.Accounts.Create(ctx, account.Merchant{Name: "Bellwether", LogoURL: "https://cdn.bellwether.test/logo.png",
		AccentColor: "#0a7d4f"})
	require.NoError(t, err)
	b.session, err = b.svc.CreateSession(ctx, b.merchant.ID, checkout.CreateSessionParams{
		LineItems: []checkout.LineItemParams{
			{Name: "Notebook", UnitAmount: ptr(int64(1500)), Quantity: ptr(int64(2)), ImageURL: "https://img.bellwether.test/notebook.png"},
		},
		Currency:   "usd",
		SuccessURL: "https://shop.bellwether.test/thanks?session={CHECKOUT_SESSION_ID}",
		CancelURL:  "https://shop.bellwether.test/cart",
	})
	require.NoError(t, err)

	r := chi.NewRouter()
	checkouthttp.NewPages(checkouthttp.PagesConfig{Payments: b.svc, CSRFKey: []byte("csrf"), Logger: logger, Now: b.now}).Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func ptr[T any](v T) *T { return &v }

// browser keeps cookies and, like a test reading a browser's network log,
// sees each redirect instead of following it.
type browser struct {
	client *http.Client
	base   string
}

func (b *testBundle) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{base: b.url, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is what the browser got.
type page struct {
	status int
	header http.Header
	body   string
}

func (br *browser) fetch(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := br.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (br *browser) get(t *testing.T, path string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, br.base+path, nil)
	require.NoError(t, err)
	return br.fetch(t, req)
}

// submit posts form to path; headers are name, value pairs.
func (br *browser) submit(t *testing.T, path string, form url.Values, headers ...string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, br.base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return br.fetch(t, req)
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token is the form's CSRF token.
func (p page) token(t *testing.T) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no CSRF token in %s", p.body)
	return m[1]
}

// card is a filled-in payment form.
func card(token, number string) url.Values {
	return url.Values{"csrf_token": {token}, "email": {"jo@example.com"}, "card_number": {number},
		"card_expiry": {"12/40"}, "card_cvc": {"123"}, "cardholder_name": {"Jo Example"}}
}

// payPath is the hosted page of the bundle's session.
func (b *testBundle) payPath() string { return "/pay/" + b.session.ID }

// state reads the session back and counts its charges and events.
func (b *testBundle) state(t *testing.T) (checkout.SessionStatus, int, []string) {
	t.Helper()
	ctx := context.Background()
	sess, err := b.svc.FindSession(ctx, b.merchant.ID, b.session.ID)
	require.NoError(t, err)
	var charges int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM charges WHERE session_id = $1`, b.session.ID).Scan(&charges))
	rows, err := b.pool.Query(ctx, `SELECT type FROM events WHERE merchant_id = $1 ORDER BY seq`, b.merchant.ID)
	require.NoError(t, err)
	var events []string
	for rows.Next() {
		var typ string
		require.NoError(t, rows.Scan(&typ))
		events = append(events, typ)
	}
	require.NoError(t, rows.Err())
	return sess.Status, charges, events
}

// The form, branded by the merchant, behind the security headers.
func TestPaymentPage(t *testing.T) {
	t.Parallel()

	b := setup(t)
	p := b.browser(t).get(t, b.payPath())
	require.Equal(t, http.StatusOK, p.status)
	for _, want := range []string{
		"<title>Pay Bellwether</title>", `<span class="merchant-name">Bellwether</span>`, "--accent: #0a7d4f", "$30.00",
		`src="https://cdn.bellwether.test/logo.png"`, `action="/pay/` + b.session.ID + `"`, `href="https://shop.bellwether.test/cart"`,
		`autocomplete="cc-number"`, `autocomplete="cc-exp"`, `autocomplete="cc-csc"`, `autocomplete="cc-name"`, `autocomplete="email"`,
	} {
		require.Contains(t, p.body, want)
	}
	require.NotContains(t, p.body, "<script")
	require.NotEmpty(t, p.token(t))

	h := p.header
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
	csp := h.Get("Content-Security-Policy")
	require.Regexp(t, `^default-src 'none'; style-src 'self' 'nonce-[A-Za-z0-9+/=]{24}'; `+
		`img-src 'self' data: https://cdn\.bellwether\.test https://img\.bellwether\.test; `+
		`form-action 'self' https://shop\.bellwether\.test; frame-ancestors 'none'; base-uri 'none'$`, csp)
	nonce := regexp.MustCompile(`'nonce-([^']+)'`).FindStringSubmatch(csp)[1]
	require.Contains(t, html.UnescapeString(p.body), `<style nonce="`+nonce+`">`, "the one inline style carries the header's nonce")
	cookie := h.Get("Set-Cookie")
	require.Contains(t, cookie, "HttpOnly")
	require.Contains(t, cookie, "SameSite=Lax")
	require.Contains(t, cookie, "Path=/pay")

	// The stylesheet the page links to.
	css := b.browser(t).get(t, "/assets/pay/checkout.css")
	require.Equal(t, http.StatusOK, css.status)
	require.Contains(t, css.header.Get("Content-Type"), "text/css")
}

func TestUnknownSession(t *testing.T) {
	t.Parallel()

	b := setup(t)
	for _, path := range []string{"/pay/cs_" + strings.Repeat("a", 24), "/pay/nonsense", "/pay/ch_1/3ds"} {
		p := b.browser(t).get(t, path)
		require.Equal(t, http.StatusNotFound, p.status, path)
		require.Contains(t, p.body, "Checkout not found")
		require.NotContains(t, p.body, `name="card_number"`)
		require.Equal(t, "DENY", p.header.Get("X-Frame-Options"), "state pages carry the headers too")
	}
}

// A successful payment sends the browser to the merchant's success URL,
// completes the session and writes its events; the page then says so, and
// a late second submission lands on the success URL too.
func TestPaySucceeds(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	token := br.get(t, b.payPath()).token(t)
	p := br.submit(t, b.payPath(), card(token, cardOK))
	success := "https://shop.bellwether.test/thanks?session=" + b.session.ID
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, success, p.header.Get("Location"))
	status, charges, events := b.state(t)
	require.Equal(t, checkout.StatusComplete, status)
	require.Equal(t, 1, charges)
	require.Equal(t, []string{"charge.succeeded", "checkout.session.completed"}, events)

	done := br.get(t, b.payPath())
	require.Equal(t, http.StatusOK, done.status)
	require.Contains(t, done.body, "Payment complete")
	require.Contains(t, done.body, "$30.00 to Bellwether went through")
	require.NotContains(t, done.body, `name="card_number"`)

	again := br.submit(t, b.payPath(), card(token, cardOK))
	require.Equal(t, http.StatusSeeOther, again.status)
	require.Equal(t, success, again.header.Get("Location"))
	_, charges, _ = b.state(t)
	require.Equal(t, 1, charges, "charged once")
}

// A declined card shows the form again with the reason as an alert; the
// session stays open, and another card can pay.
func TestDeclines(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	token := br.get(t, b.payPath()).token(t)
	for _, tt := range []struct {
		number, alert string
	}{
		{cardDeclined, checkout.DeclineMessage(checkout.DeclineCardDeclined)},
		{cardNoFunds, checkout.DeclineMessage(checkout.DeclineInsufficientFunds)},
		// Test mode says which rule blocked the card.
		{cardFraud, "Test mode: blocked by card_blocklisted: this card is on the fraud blocklist; use another card."},
	} {
		p := br.submit(t, b.payPath(), card(token, tt.number))
		require.Equal(t, http.StatusPaymentRequired, p.status, tt.number)
		require.Contains(t, p.body, `<div class="alert" role="alert">`+templateEscape(tt.alert)+`</div>`)
		require.Contains(t, p.body, `name="card_number"`, "the form again")
		require.Contains(t, p.body, `value="Jo Example"`, "what the customer typed stays, but the card")
		require.NotContains(t, p.body, "4000")
	}
	status, charges, events := b.state(t)
	require.Equal(t, checkout.StatusOpen, status)
	require.Equal(t, 3, charges)
	require.Equal(t, []string{"charge.failed", "charge.failed", "charge.failed"}, events)

	p := br.submit(t, b.payPath(), card(token, cardOK))
	require.Equal(t, http.StatusSeeOther, p.status)
}

// In test mode a velocity block says which rules blocked the payment and
// when to try again: ten minutes after the first of the five declines,
// rounded up to the minute. Retrying while blocked changes nothing.
func TestVelocityBlockExplained(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	token := br.get(t, b.payPath()).token(t)
	before := b.now()
	for _, number := range []string{cardDeclined, cardNoFunds, cardDeclined, cardNoFunds, cardDeclined} {
		p := br.submit(t, b.payPath(), card(token, number))
		require.Equal(t, http.StatusPaymentRequired, p.status)
		require.NotContains(t, p.body, "Test mode: blocked")
	}
	after := b.now()
	alertRE := regexp.MustCompile(`<div class="alert" role="alert">Test mode: blocked by session_decline_velocity: 5 declines on ` +
		`this checkout in the last 10 minutes; ip_decline_velocity: 5 declines from your network in the last 10 minutes; ` +
		`try again after (\d\d:\d\d) UTC\.</div>`)
	// A retry a minute for seven minutes: were blocked attempts declines,
	// from the sixth on they alone would keep the block and push it out.
	var shown []string
	for range 7 {
		p := br.submit(t, b.payPath(), card(token, cardOK))
		require.Equal(t, http.StatusPaymentRequired, p.status)
		m := alertRE.FindStringSubmatch(p.body)
		require.NotNil(t, m, p.body)
		shown = append(shown, m[1])
		b.skew.Add(int64(time.Minute))
	}
	require.Equal(t, slices.Repeat([]string{shown[0]}, 7), shown, "retries do not push the block out")
	ceil := func(t time.Time) string {
		return t.Add(10*time.Minute + time.Minute - time.Nanosecond).UTC().Truncate(time.Minute).Format("15:04")
	}
	require.Contains(t, []string{ceil(before), ceil(after)}, shown[0])

	// Once the block has lifted, the card goes through.
	b.skew.Add(int64(4 * time.Minute))
	p := br.submit(t, b.payPath(), card(token, cardOK))
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
}

// templateEscape is what html/template makes of an apostrophe.
func templateEscape(s string) string { return strings.ReplaceAll(s, "'", "&#39;") }

// An invalid form is answered inline, field by field, and charges nothing.
func TestInvalidForm(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	token := br.get(t, b.payPath()).token(t)
	form := card(token, "4242 4242 4242 4241")
	form.Set("email", "not an address")
	p := br.submit(t, b.payPath(), form)
	require.Equal(t, http.StatusUnprocessableEntity, p.status)
	require.Contains(t, p.body, `role="alert">Check the highlighted fields.`)
	require.Contains(t, p.body, `id="card_number-error">Your card number is invalid.`)
	require.Contains(t, p.body, `id="email-error">Enter a valid email address.`)
	require.NotContains(t, p.body, `id="cardholder_name-error"`)
	require.NotContains(t, p.body, "4241", "the card number is never shown back")

	form = card(token, cardOK)
	form.Set("card_expiry", "01/20")
	p = br.submit(t, b.payPath(), form)
	require.Equal(t, http.StatusUnprocessableEntity, p.status)
	require.Contains(t, p.body, `id="card_expiry-error"`)

	missing := br.submit(t, b.payPath(), url.Values{"csrf_token": {token}})
	require.Equal(t, http.StatusUnprocessableEntity, missing.status)
	require.Contains(t, missing.body, "Enter your card number.")

	oversized := card(token, cardOK)
	oversized.Set("cardholder_name", strings.Repeat("x", 20<<10))
	require.Equal(t, http.StatusBadRequest, br.submit(t, b.payPath(), oversized).status)

	status, charges, _ := b.state(t)
	require.Equal(t, checkout.StatusOpen, status)
	require.Zero(t, charges)
}

// A post the page cannot trust is refused before anything is charged.
func TestCSRF(t *testing.T) {
	t.Parallel()

	b := setup(t)
	other, err := b.svc.CreateSession(context.Background(), b.merchant.ID, checkout.CreateSessionParams{
		LineItems: []checkout.LineItemParams{{Name: "Pen", UnitAmount: ptr(int64(250)), Quantity: ptr(int64(1))}},
		Currency:  "usd", SuccessURL: "https://shop.bellwether.test/thanks", CancelURL: "https://shop.bellwether.test/cart",
	})
	require.NoError(t, err)
	for _, tt := range []struct {
		name    string
		post    func(t *testing.T) page
		message string
	}{
		{"no cookie", func(t *testing.T) page {
			token := b.browser(t).get(t, b.payPath()).token(t)
			return b.browser(t).submit(t, b.payPath(), card(token, cardOK))
		}, "Nothing was charged"},
		{"forged token", func(t *testing.T) page {
			br := b.browser(t)
			br.get(t, b.payPath())
			return br.submit(t, b.payPath(), card("forged", cardOK))
		}, "Nothing was charged"},
		{"another session's token", func(t *testing.T) page {
			br := b.browser(t)
			br.get(t, b.payPath())
			token := br.get(t, "/pay/"+other.ID).token(t)
			return br.submit(t, b.payPath(), card(token, cardOK))
		}, "Nothing was charged"},
		{"cross-site post", func(t *testing.T) page {
			br := b.browser(t)
			token := br.get(t, b.payPath()).token(t)
			return br.submit(t, b.payPath(), card(token, cardOK), "Sec-Fetch-Site", "cross-site")
		}, "submitted from another site, so it was not processed"},
		{"3-D Secure answer without a token", func(t *testing.T) page {
			return b.browser(t).submit(t, b.payPath()+"/3ds", url.Values{"result": {"authenticated"}})
		}, "Nothing was charged"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.post(t)
			require.Equal(t, http.StatusForbidden, p.status)
			require.Contains(t, p.body, tt.message)
		})
	}
	status, charges, events := b.state(t)
	require.Equal(t, checkout.StatusOpen, status)
	require.Zero(t, charges)
	require.Empty(t, events)
}

// A card that needs 3-D Secure goes through the challenge page; the
// customer's answer completes or declines the payment.
func TestThreeDSecure(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	p := br.get(t, b.payPath()+"/3ds")
	require.Equal(t, http.StatusSeeOther, p.status, "no challenge before a payment asks for one")
	require.Equal(t, b.payPath(), p.header.Get("Location"))

	token := br.get(t, b.payPath()).token(t)
	p = br.submit(t, b.payPath(), card(token, cardChallenge))
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, b.payPath()+"/3ds", p.header.Get("Location"))

	challenge := br.get(t, b.payPath()+"/3ds")
	require.Equal(t, http.StatusOK, challenge.status)
	require.Contains(t, challenge.body, "Visa •••• 3184")
	require.Contains(t, challenge.body, `name="result" value="authenticated"`)
	require.Contains(t, challenge.body, `name="result" value="failed"`)
	require.Equal(t, "DENY", challenge.header.Get("X-Frame-Options"))
	token = challenge.token(t)

	p = br.submit(t, b.payPath()+"/3ds", url.Values{"csrf_token": {token}, "result": {"maybe"}})
	require.Equal(t, http.StatusSeeOther, p.status, "an answer that is neither goes back to the challenge")
	require.Equal(t, b.payPath()+"/3ds", p.header.Get("Location"))

	p = br.submit(t, b.payPath()+"/3ds", url.Values{"csrf_token": {token}, "result": {"failed"}})
	require.Equal(t, http.StatusPaymentRequired, p.status)
	require.Contains(t, p.body, `role="alert">`+checkout.DeclineMessage(checkout.DeclineAuthenticationFailed))
	status, _, _ := b.state(t)
	require.Equal(t, checkout.StatusOpen, status)

	p = br.submit(t, b.payPath(), card(token, cardChallenge))
	require.Equal(t, b.payPath()+"/3ds", p.header.Get("Location"))
	p = br.submit(t, b.payPath()+"/3ds", url.Values{"csrf_token": {token}, "result": {"authenticated"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	require.Equal(t, "https://shop.bellwether.test/thanks?session="+b.session.ID, p.header.Get("Location"))
	status, charges, events := b.state(t)
	require.Equal(t, checkout.StatusComplete, status)
	require.Equal(t, 2, charges)
	require.Equal(t, []string{"charge.failed", "charge.succeeded", "checkout.session.completed"}, events)
}

// A session past its time shows the expired page, never the form, and a
// form posted late is refused with 410 and charges nothing; so is one
// posted after the merchant expired the session.
func TestExpired(t *testing.T) {
	t.Parallel()

	t.Run("by time", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		br := b.browser(t)
		token := br.get(t, b.payPath()).token(t)
		b.skew.Store(int64(2 * time.Hour))
		p := br.get(t, b.payPath())
		require.Equal(t, http.StatusOK, p.status)
		require.Contains(t, p.body, "This checkout has expired")
		require.Contains(t, p.body, `href="https://shop.bellwether.test/cart"`)
		require.NotContains(t, p.body, `name="card_number"`)
		p = br.submit(t, b.payPath(), card(token, cardOK))
		require.Equal(t, http.StatusGone, p.status)
		require.Contains(t, p.body, "nothing was charged")
		_, charges, _ := b.state(t)
		require.Zero(t, charges)
	})

	t.Run("by the merchant", func(t *testing.T) {
		t.Parallel()

		b := setup(t)
		br := b.browser(t)
		token := br.get(t, b.payPath()).token(t)
		_, err := b.svc.ExpireSession(context.Background(), b.merchant.ID, b.session.ID)
		require.NoError(t, err)
		p := br.submit(t, b.payPath(), card(token, cardOK))
		require.Equal(t, http.StatusGone, p.status)
		require.Contains(t, p.body, "This checkout has expired")
		status, charges, events := b.state(t)
		require.Equal(t, checkout.StatusExpired, status)
		require.Zero(t, charges)
		require.Equal(t, []string{"checkout.session.expired"}, events)
	})
}
