package dashboard_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/internal/dashboardtest"
)

// pay makes a charge through the real payments service: a new session of
// merchantID paid with a test card from ip, at the dashboard's clock.
func (b *testBundle) pay(t *testing.T, merchantID, number, ip string) *checkout.PayResult {
	t.Helper()
	ctx := context.Background()
	one := int64(1)
	amount := int64(2500)
	sess, err := b.checkout.CreateSession(ctx, merchantID, checkout.CreateSessionParams{
		LineItems: []checkout.LineItemParams{{Name: "Mug", UnitAmount: &amount, Quantity: &one}}, Currency: "eur",
		SuccessURL: "https://shop.test/ok", CancelURL: "https://shop.test/cart",
	})
	require.NoError(t, err)
	card, err := checkout.ParseCard(number, "12/40", "123", b.clock.Now())
	require.NoError(t, err)
	res, err := b.checkout.Pay(ctx, checkout.PayRequest{SessionID: sess.ID, Card: card, CardholderName: "Jo Doe",
		Email: "jo@shop.test", ClientIP: netip.MustParseAddr(ip)})
	require.NoError(t, err)
	b.clock.Advance(time.Second)
	return res
}

var paymentLinkRE = regexp.MustCompile(`href="/dashboard/payments/(ch_[0-9A-Za-z]+)"`)

// paymentIDs lists the payments a list page links to, in order.
func paymentIDs(body string) []string { return linkedIDs(paymentLinkRE, body) }

// The payments list across merchants, newest first, and each filter.
func TestPaymentsList(t *testing.T) {
	t.Parallel()

	b := setup(t)
	acme := dashboardtest.Merchant(t, b.pool, "Acme")
	calm := dashboardtest.Merchant(t, b.pool, "Calm")
	ok := b.pay(t, acme, checkout.TestCardVisa, "192.0.2.1").Charge
	declined := b.pay(t, calm, checkout.TestCardInsufficientFunds, "192.0.2.2").Charge
	blocked := b.pay(t, acme, checkout.TestCardFraudulent, "192.0.2.3").Charge
	challenged := b.pay(t, calm, checkout.TestCardThreeDSecure, "2001:db8::7").Charge

	br := b.browser(t)
	br.signIn()
	all := br.get("/dashboard/payments")
	require.Equal(t, http.StatusOK, all.Status)
	require.Equal(t, []string{challenged.ID, blocked.ID, declined.ID, ok.ID}, paymentIDs(all.Body), "newest first")
	row := func(body, chargeID string) string {
		m := regexp.MustCompile(`(?s)<tr id="payment-` + chargeID + `">(.*?)</tr>`).FindStringSubmatch(body)
		require.NotNil(t, m, chargeID)
		return m[1]
	}
	for _, tt := range []struct {
		chargeID string
		want     []string
	}{
		{ok.ID, []string{"Acme", "€25.00", "visa •••• 4242", `<span class="pill pill-ok">succeeded</span>`, "normal", "not_required", "192.0.2.1"}},
		{declined.ID, []string{"Calm", `<span class="pill pill-warn">declined</span>`, "<code>insufficient_funds</code>", "allow"}},
		{blocked.ID, []string{`<span class="pill pill-bad">blocked</span>`, "<code>fraudulent</code>", "highest", "block",
			"<code>card_blocklisted</code>", "192.0.2.3"}},
		{challenged.ID, []string{"3-D Secure pending", "required", "2001:db8::7"}},
	} {
		r := row(all.Body, tt.chargeID)
		for _, want := range tt.want {
			require.Contains(t, r, want, tt.chargeID)
		}
	}

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"merchant=" + acme, []string{blocked.ID, ok.ID}},
		{"status=failed", []string{blocked.ID, declined.ID}},
		{"status=succeeded&merchant=" + calm, nil},
		{"blocked=1", []string{blocked.ID}},
		{"blocked=1&merchant=" + calm, nil},
		{"blocked=1&status=succeeded", nil},
		{"status=requires_authentication", []string{challenged.ID}},
	} {
		p := br.get("/dashboard/payments?" + tt.query)
		require.Equal(t, http.StatusOK, p.Status, tt.query)
		require.Equal(t, tt.want, paymentIDs(p.Body), tt.query)
		if tt.want == nil {
			require.Contains(t, p.Body, "No payment matches these filters.", tt.query)
		}
	}

	for _, tt := range []struct{ query, message string }{
		{"status=paid", "Unknown outcome."},
		{"merchant=we_1", "Not a merchant id (acct_…)."},
		{"blocked=yes", "Tick the box or leave it."},
	} {
		p := br.get("/dashboard/payments?" + tt.query)
		require.Equal(t, http.StatusBadRequest, p.Status, tt.query)
		require.Contains(t, p.Body, tt.message, tt.query)
		require.Empty(t, paymentIDs(p.Body))
	}
	require.Equal(t, http.StatusBadRequest, br.get("/dashboard/payments?after=garbage").Status)
	require.Contains(t, br.get("/dashboard/payments?blocked=1").Body, `id="p-blocked" name="blocked" value="1" checked`,
		"the filter is shown back")
}

// More than a page of payments: the older and newer links walk the list
// without skipping or repeating one, and keep the filter.
func TestPaymentsPaging(t *testing.T) {
	t.Parallel()

	b := setup(t)
	acme := dashboardtest.Merchant(t, b.pool, "Acme")
	var want []string
	for range 52 {
		want = append([]string{b.pay(t, acme, checkout.TestCardVisa, "192.0.2.1").Charge.ID}, want...)
	}
	br := b.browser(t)
	br.signIn()
	first := br.get("/dashboard/payments?merchant=" + acme)
	require.Equal(t, want[:50], paymentIDs(first.Body))
	older := regexp.MustCompile(`href="([^"]+)" id="page-older"`).FindStringSubmatch(first.Body)
	require.NotNil(t, older)
	second := br.get(htmlUnescape(older[1]))
	require.Equal(t, want[50:], paymentIDs(second.Body))
	newer := regexp.MustCompile(`href="([^"]+)" id="page-newer"`).FindStringSubmatch(second.Body)
	require.NotNil(t, newer)
	require.Contains(t, newer[1], "merchant="+acme)
	require.Equal(t, want[:50], paymentIDs(br.get(htmlUnescape(newer[1])).Body))
}

func htmlUnescape(s string) string { return regexp.MustCompile(`&amp;`).ReplaceAllString(s, "&") }

// A blocked payment's page says which rule blocked it and where its
// session, card and client IP stand; clearing the IP's block is audited,
// needs the session's form token, and lets the next payment from that IP
// through.
func TestPaymentPageClearsVelocityBlock(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	acme := dashboardtest.Merchant(t, b.pool, "Acme")
	for _, card := range []string{checkout.TestCardDeclined, checkout.TestCardInsufficientFunds, checkout.TestCardExpired,
		checkout.TestCardIncorrectCVC, checkout.TestCardDeclined} {
		b.pay(t, acme, card, "198.51.100.7")
	}
	blocked := b.pay(t, acme, checkout.TestCardVisa, "198.51.100.7").Charge
	require.Equal(t, checkout.RiskBlock, blocked.Risk.Decision)

	br := b.browser(t)
	token := br.signIn()
	page := br.get("/dashboard/payments/" + blocked.ID)
	require.Equal(t, http.StatusOK, page.Status)
	for _, want := range []string{
		`<dd id="decision">block</dd>`, "<code>ip_decline_velocity</code>", "by which rule, and when to try again (test mode)",
		"5 declines within 10 minutes block",
		"visa •••• 4242", "198.51.100.7", "never reached the acquirer",
	} {
		require.Contains(t, page.Body, want)
	}
	scopeRow := func(body string, scope checkout.VelocityScope) string {
		m := regexp.MustCompile(`(?s)<tr id="velocity-` + string(scope) + `">(.*?)</tr>`).FindStringSubmatch(body)
		require.NotNil(t, m, scope)
		return m[1]
	}
	ipRow := scopeRow(page.Body, checkout.ScopeIP)
	require.Contains(t, ipRow, "5 of 5")
	require.Contains(t, ipRow, `<span class="pill pill-bad">blocked</span>`)
	require.Contains(t, ipRow, `id="clear-ip"`)
	liftsAt := b.clock.Now().Add(-6 * time.Second).Add(10 * time.Minute).UTC().Format("2006-01-02 15:04:05")
	require.Contains(t, ipRow, "lifts "+liftsAt+" UTC", "ten minutes after the first decline")
	cardRow := scopeRow(page.Body, checkout.ScopeCard)
	require.Contains(t, cardRow, "0 of 5", "the blocked 4242 is not a decline of that card")
	require.Contains(t, cardRow, "not blocked")
	require.NotContains(t, cardRow, "clear-card")

	form := url.Values{"csrf_token": {token}, "scope": {"ip"}}
	p := br.post("/dashboard/payments/"+blocked.ID+"/clear", url.Values{"scope": {"ip"}})
	require.Equal(t, http.StatusForbidden, p.Status, "no form token")
	p = br.post("/dashboard/payments/"+blocked.ID+"/clear", form, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, p.Status, "from another site")
	p = br.post("/dashboard/payments/"+blocked.ID+"/clear", url.Values{"csrf_token": {token}, "scope": {"merchant"}})
	require.Equal(t, http.StatusBadRequest, p.Status)
	require.Contains(t, p.Body, "Choose the session, the card or the client IP to clear.")
	p = br.post("/dashboard/payments/ch_missing/clear", form)
	require.Equal(t, http.StatusNotFound, p.Status)
	var clearances int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM fraud_clearances`).Scan(&clearances))
	require.Zero(t, clearances, "nothing was cleared")
	require.Empty(t, auditOf(b.audit(t), dashboard.ActionVelocityClear))

	p = br.post("/dashboard/payments/"+blocked.ID+"/clear", form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Equal(t, "/dashboard/payments/"+blocked.ID+"?notice=cleared_ip", p.Location)
	after := br.get(p.Location)
	require.Contains(t, after.Body, "The client IP&#39;s velocity block is lifted")
	ipRow = scopeRow(after.Body, checkout.ScopeIP)
	require.Contains(t, ipRow, "0 of 5")
	require.Contains(t, ipRow, "not blocked")
	require.Contains(t, ipRow, "last cleared by Ada")

	entries := auditOf(b.audit(t), dashboard.ActionVelocityClear)
	require.Len(t, entries, 1)
	e := entries[0]
	require.Equal(t, "Ada", e.Operator)
	require.Equal(t, acme, e.MerchantID)
	require.Equal(t, blocked.ID, e.Target)
	require.Equal(t, map[string]string{"scope": "ip", "ip": "198.51.100.7"}, e.Detail)
	require.Equal(t, dashboard.OutcomeSucceeded, e.Outcome)
	require.Equal(t, "Client IP cleared: earlier declines no longer count (0 now)", e.Result)
	require.Contains(t, br.get("/dashboard/audit").Body, `href="/dashboard/payments/`+blocked.ID+`"`)

	res := b.pay(t, acme, checkout.TestCardVisa, "198.51.100.7")
	require.Equal(t, checkout.OutcomeSucceeded, res.Outcome, "the next payment from that IP goes through")
}

func TestPaymentPageNotFound(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	br.signIn()
	for _, path := range []string{"/dashboard/payments/ch_missing", "/dashboard/payments/dlv_1", "/dashboard/payments/%00"} {
		require.Equal(t, http.StatusNotFound, br.get(path).Status, path)
	}
	requireSignInPage(t, b.browser(t).get("/dashboard/payments"))
}

// auditOf keeps the entries of one action.
func auditOf(entries []dashboard.AuditEntry, action string) []dashboard.AuditEntry {
	var out []dashboard.AuditEntry
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}
