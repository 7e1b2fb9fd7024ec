package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/browsertest"
)

// newShop is the merchant's site: the success and cancel pages the browser
// lands on after checkout.
func newShop(t *testing.T) *httptest.Server {
	t.Helper()
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/success":
			fmt.Fprintf(w, `<!doctype html><title>Thanks</title><h1 id="thanks">Thanks for your order</h1><p id="sid">%s</p>`,
				html.EscapeString(r.URL.Query().Get("session_id")))
		case "/cart":
			_, _ = io.WriteString(w, `<!doctype html><title>Cart</title><h1 id="cart">Your cart</h1>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(shop.Close)
	return shop
}

// checkoutFixture is a server, a merchant and an open session whose success
// and cancel URLs point at a shop.
type checkoutFixture struct {
	ts        *testServer
	key       string
	shop      *httptest.Server
	sessionID string
	payURL    string
}

func newCheckout(t *testing.T, mutate ...func(map[string]any)) *checkoutFixture {
	t.Helper()
	f := &checkoutFixture{ts: startServer(t), shop: newShop(t)}
	_, f.key = f.ts.newMerchant(t, "Paper & Ink")
	body := sessionBody()
	body["success_url"] = f.shop.URL + "/success?session_id={CHECKOUT_SESSION_ID}"
	body["cancel_url"] = f.shop.URL + "/cart"
	for _, m := range mutate {
		m(body)
	}
	r := f.ts.call(t, http.MethodPost, "/v1/checkout/sessions", f.key, body)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	f.sessionID = r.Body["id"].(string)
	f.payURL = r.Body["url"].(string)
	return f
}

func (f *checkoutFixture) session(t *testing.T) map[string]any {
	t.Helper()
	r := f.ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+f.sessionID, f.key, nil)
	require.Equal(t, http.StatusOK, r.Status)
	return r.Body
}

// fillAndPay types a card into the payment form, replacing whatever the
// page kept from an earlier attempt, and submits it. Fields are emptied by
// typing (End, then backspaces) rather than with chromedp.Clear, whose
// attribute change races with chromedp's own reading of the node.
func fillAndPay(number, expiry, cvc string) chromedp.Action[chromedp.Void] {
	steps := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.ID("card_number"))}
	for _, field := range [][2]string{
		{"email", "jo@example.com"}, {"card_number", number}, {"card_expiry", expiry},
		{"card_cvc", cvc}, {"cardholder_name", "Jo Example"},
	} {
		steps = append(steps, chromedp.SendKeys(chromedp.ID(field[0]), kb.End+strings.Repeat(kb.Backspace, 64)+field[1]))
	}
	return chromedp.Steps(append(steps, chromedp.Click(chromedp.CSS("button.pay-button")))...)
}

func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, steps...))
}

func disableJavaScript() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	})
}

// The whole customer journey in a browser with JavaScript turned off: the
// page is branded and itemised, the card is accepted, and the browser lands
// on the merchant's success URL with the session id.
func TestBrowserPaySucceeds(t *testing.T) {
	t.Parallel()

	f := newCheckout(t)
	ctx := browsertest.NewTab(t)
	do(t, ctx, disableJavaScript(), chromedp.Navigate(f.payURL), chromedp.WaitVisible(chromedp.ID("card_number")))

	require.Equal(t, "Pay Paper & Ink", get(t, ctx, chromedp.Title()))
	require.Equal(t, "$32.50", get(t, ctx, chromedp.Text(chromedp.CSS(`[data-testid="total"]`))))
	items := get(t, ctx, chromedp.Text(chromedp.CSS(".items")))
	require.Contains(t, items, "Notebook")
	require.Contains(t, items, "Qty 2 · $15.00 each")
	require.Contains(t, items, "$30.00")
	require.Contains(t, items, "Pen")
	attrs := get(t, ctx, chromedp.Attributes(chromedp.ID("card_number")))
	require.Equal(t, "cc-number", attrs["autocomplete"])
	browsertest.Screenshot(t, ctx, "form")

	do(t, ctx, fillAndPay("4242 4242 4242 4242", "12 / 34", "123"), chromedp.WaitVisible(chromedp.ID("thanks")))
	loc := get(t, ctx, chromedp.Location())
	require.Equal(t, f.shop.URL+"/success?session_id="+f.sessionID, loc)
	require.Equal(t, f.sessionID, get(t, ctx, chromedp.Text(chromedp.ID("sid"))))

	s := f.session(t)
	require.Equal(t, "complete", s["status"])
	require.Equal(t, "paid", s["payment_status"])
	require.Equal(t, "jo@example.com", s["customer_email"])
	payment := s["payment"].(map[string]any)
	require.Equal(t, "visa", payment["brand"])
	require.Equal(t, "4242", payment["last4"])
	require.Equal(t, "not_required", payment["three_d_secure"])

	// Coming back to the page shows the outcome, never the form again.
	do(t, ctx, chromedp.Navigate(f.payURL), chromedp.WaitVisible(chromedp.ID("state-title")))
	require.Equal(t, "Payment complete", get(t, ctx, chromedp.Text(chromedp.ID("state-title"))))
	require.Empty(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll("#card_number"), chromedp.AtLeast(0))))
	browsertest.Screenshot(t, ctx, "complete")
}

func TestBrowserDeclines(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name   string
		number string
		code   string
		alert  string
	}{
		{"card_declined", "4000 0000 0000 0002", checkout.DeclineCardDeclined, checkout.DeclineMessage(checkout.DeclineCardDeclined)},
		{"insufficient_funds", "4000 0000 0000 9995", checkout.DeclineInsufficientFunds, checkout.DeclineMessage(checkout.DeclineInsufficientFunds)},
		{"expired_card", "4000 0000 0000 0069", checkout.DeclineExpiredCard, checkout.DeclineMessage(checkout.DeclineExpiredCard)},
		{"incorrect_cvc", "4000 0000 0000 0127", checkout.DeclineIncorrectCVC, checkout.DeclineMessage(checkout.DeclineIncorrectCVC)},
		// Test mode says which rule blocked it.
		{"fraudulent", "4100 0000 0000 0019", checkout.DeclineFraudulent,
			"Test mode: blocked by card_blocklisted: this card is on the fraud blocklist; use another card."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f := newCheckout(t)
			ctx := browsertest.NewTab(t)
			do(t, ctx, chromedp.Navigate(f.payURL), fillAndPay(tt.number, "12/34", "123"),
				chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
			require.Equal(t, tt.alert, get(t, ctx, chromedp.Text(chromedp.CSS(`[role="alert"]`))))
			require.Equal(t, f.payURL, get(t, ctx, chromedp.Location()), "the customer stays on the payment page")
			require.Empty(t, get(t, ctx, chromedp.Value(chromedp.ID("card_number"))), "the card number is never echoed back")
			if tt.code == checkout.DeclineCardDeclined {
				browsertest.Screenshot(t, ctx, "declined")
			}

			require.Equal(t, "open", f.session(t)["status"], "the session stays open for another try")
			var code, decision string
			require.NoError(t, f.ts.Pool().QueryRow(context.Background(),
				`SELECT failure_code, risk_decision FROM charges WHERE session_id = $1`, f.sessionID).Scan(&code, &decision))
			require.Equal(t, tt.code, code)
			if tt.code == checkout.DeclineFraudulent {
				require.Equal(t, "block", decision)
			}

			// Another card on the same page goes through.
			do(t, ctx, fillAndPay("5555 5555 5555 4444", "12/34", "123"), chromedp.WaitVisible(chromedp.ID("thanks")))
			require.Equal(t, "complete", f.session(t)["status"])
		})
	}
}

func TestBrowserThreeDSecure(t *testing.T) {
	t.Parallel()

	t.Run("Authenticated", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.payURL), fillAndPay("4000 0027 6000 3184", "12/34", "123"),
			chromedp.WaitVisible(chromedp.CSS(`button[name="result"][value="authenticated"]`)))
		require.Equal(t, f.payURL+"/3ds", get(t, ctx, chromedp.Location()))
		require.Contains(t, get(t, ctx, chromedp.Text(chromedp.CSS(".totals"))), "Visa •••• 3184")
		browsertest.Screenshot(t, ctx, "challenge")
		require.Equal(t, "open", f.session(t)["status"], "nothing is paid before the challenge")

		do(t, ctx, chromedp.Click(chromedp.CSS(`button[value="authenticated"]`)), chromedp.WaitVisible(chromedp.ID("thanks")))
		s := f.session(t)
		require.Equal(t, "paid", s["payment_status"])
		require.Equal(t, "authenticated", s["payment"].(map[string]any)["three_d_secure"])
	})

	t.Run("Failed", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.payURL), fillAndPay("4000 0027 6000 3184", "12/34", "123"),
			chromedp.Click(chromedp.CSS(`button[value="failed"]`)), chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)))
		require.Equal(t, checkout.DeclineMessage(checkout.DeclineAuthenticationFailed),
			get(t, ctx, chromedp.Text(chromedp.CSS(`[role="alert"]`))))
		require.Equal(t, "open", f.session(t)["status"])
	})

	t.Run("LargeAmountChallengesAnyCard", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t, func(b map[string]any) {
			b["line_items"] = []map[string]any{{"name": "Sofa", "unit_amount": 150_000, "quantity": 1}}
		})
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.payURL), fillAndPay("4242 4242 4242 4242", "12/34", "123"),
			chromedp.Click(chromedp.CSS(`button[value="authenticated"]`)), chromedp.WaitVisible(chromedp.ID("thanks")))
		require.Equal(t, "authenticated", f.session(t)["payment"].(map[string]any)["three_d_secure"])
	})
}

func TestBrowserInlineValidation(t *testing.T) {
	t.Parallel()

	f := newCheckout(t)
	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(f.payURL), fillAndPay("4242 4242 4242 4241", "01/20", "12"),
		chromedp.WaitVisible(chromedp.ID("card_number-error")))
	require.Equal(t, "Your card number is invalid.", get(t, ctx, chromedp.Text(chromedp.ID("card_number-error"))))
	require.Equal(t, "true", get(t, ctx, chromedp.Attributes(chromedp.ID("card_number")))["aria-invalid"])
	require.Equal(t, "jo@example.com", get(t, ctx, chromedp.Value(chromedp.ID("email"))), "what is safe to keep is kept")
	browsertest.Screenshot(t, ctx, "invalid")

	do(t, ctx, fillAndPay("4242 4242 4242 4242", "01/20", "123"), chromedp.WaitVisible(chromedp.ID("card_expiry-error")))
	require.Equal(t, "Your card's expiration date is in the past.", get(t, ctx, chromedp.Text(chromedp.ID("card_expiry-error"))))

	var charges int
	require.NoError(t, f.ts.Pool().QueryRow(context.Background(), `SELECT count(*) FROM charges`).Scan(&charges))
	require.Zero(t, charges, "nothing is charged for an invalid card")
}

func TestBrowserExpiredAndCancel(t *testing.T) {
	t.Parallel()

	t.Run("Expired", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		require.Equal(t, http.StatusOK, f.ts.call(t, http.MethodPost, "/v1/checkout/sessions/"+f.sessionID+"/expire", f.key, nil).Status)
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.payURL), chromedp.WaitVisible(chromedp.ID("state-title")))
		require.Equal(t, "This checkout has expired", get(t, ctx, chromedp.Text(chromedp.ID("state-title"))))
		require.Empty(t, get(t, ctx, chromedp.Nodes(chromedp.CSSAll("form"), chromedp.AtLeast(0))), "no form on an expired session")
		browsertest.Screenshot(t, ctx, "expired")

		do(t, ctx, chromedp.Click(chromedp.CSS("a.link-button")), chromedp.WaitVisible(chromedp.ID("cart")))
		require.Equal(t, f.shop.URL+"/cart", get(t, ctx, chromedp.Location()))
	})

	t.Run("ExpiresAtPassed", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		_, err := f.ts.Pool().Exec(context.Background(), `UPDATE checkout_sessions SET expires_at = now() - interval '1 second'`)
		require.NoError(t, err)
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.payURL), chromedp.WaitVisible(chromedp.ID("state-title")))
		require.Equal(t, "This checkout has expired", get(t, ctx, chromedp.Text(chromedp.ID("state-title"))))
	})

	t.Run("CancelLink", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.payURL), chromedp.Click(chromedp.CSS("a.back")), chromedp.WaitVisible(chromedp.ID("cart")))
		require.Equal(t, f.shop.URL+"/cart", get(t, ctx, chromedp.Location()))
		require.Equal(t, "open", f.session(t)["status"], "leaving does not end the session")
	})

	t.Run("UnknownSession", func(t *testing.T) {
		t.Parallel()

		f := newCheckout(t)
		ctx := browsertest.NewTab(t)
		do(t, ctx, chromedp.Navigate(f.ts.URL()+"/pay/cs_doesnotexist"), chromedp.WaitVisible(chromedp.ID("state-title")))
		require.Equal(t, "Checkout not found", get(t, ctx, chromedp.Text(chromedp.ID("state-title"))))
	})
}

// After real payments through the browser, no test card number or CVC is
// anywhere in the database or the logs: only tokens, brand, last4, expiry
// and an HMAC fingerprint are kept.
func TestCardDataNeverStoredOrLogged(t *testing.T) {
	t.Parallel()

	f := newCheckout(t)
	const cvc = "739"
	pans := []string{"4000000000000002", "4000002760003184", "4242424242424242"}
	ctx := browsertest.NewTab(t)
	do(t, ctx, chromedp.Navigate(f.payURL),
		fillAndPay("4000 0000 0000 0002", "12/34", cvc), chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
		fillAndPay("4242 4242 4242 4241", "12/34", cvc), chromedp.WaitVisible(chromedp.ID("card_number-error")),
		fillAndPay("4000 0027 6000 3184", "12/34", cvc), chromedp.Click(chromedp.CSS(`button[value="failed"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[role="alert"]`)),
		fillAndPay("4242 4242 4242 4242", "12/34", cvc), chromedp.WaitVisible(chromedp.ID("thanks")))

	dump := dumpDatabase(t, f.ts.Pool())
	require.True(t, dump.contains(f.sessionID), "the dump covers the checkout tables")
	require.True(t, dump.contains("4242"), "last4 is kept")
	logs := f.ts.logs.String()
	require.Contains(t, logs, "/pay/"+f.sessionID, "the logs cover the payment requests")
	places := append(dump, haystack{"the logs", []byte(logs)})
	for _, pan := range append(pans, "4242424242424241") {
		requireAbsent(t, "a card number", pan, places)
		requireAbsent(t, "a card number", spaced(pan), places)
	}
	for _, where := range []struct{ name, text string }{{"database", dump.text()}, {"logs", logs}} {
		require.False(t, cvcPattern(cvc).MatchString(where.text), "%s contains the CVC", where.name)
	}
}

func spaced(pan string) string {
	var parts []string
	for i := 0; i < len(pan); i += 4 {
		parts = append(parts, pan[i:min(i+4, len(pan))])
	}
	return strings.Join(parts, " ")
}

// cvcPattern matches the CVC as a value of its own: not inside a longer
// number, an identifier, or a timestamp's fraction of a second.
func cvcPattern(cvc string) *regexp.Regexp {
	return regexp.MustCompile(`(?:^|[^0-9A-Za-z_.:+-])` + cvc + `(?:[^0-9]|$)`)
}
