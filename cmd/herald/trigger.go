package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/heraldpay/herald/webhook"
)

// triggerCards are the test cards `herald trigger` pays with.
const (
	triggerCardSuccess  = "4242424242424242"
	triggerCardDeclined = "4000000000000002"
)

// triggers maps each event type `herald trigger` can cause to how.
var triggers = map[string]string{
	webhook.TypeCheckoutSessionCompleted: "creates a test session and pays it with 4242 4242 4242 4242",
	webhook.TypeChargeSucceeded:          "creates a test session and pays it with 4242 4242 4242 4242",
	webhook.TypeChargeFailed:             "creates a test session and pays it with the declined card 4000 0000 0000 0002",
	webhook.TypeCheckoutSessionExpired:   "creates a test session and expires it",
}

const triggerSynopsis = `Usage: herald trigger EVENT --api-key sk_… [flags]

Makes a real event happen for the merchant: creates a test checkout session
through the API and pays (or expires) it as a customer would. EVENT is
checkout.session.completed, checkout.session.expired, charge.succeeded or
charge.failed.`

// runTrigger makes real events flow: it creates a checkout session through
// the API and completes it the way a customer would, by posting the hosted
// payment page's form (with its CSRF cookie and token) — no shortcut
// around the product.
func runTrigger(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("herald trigger")
	var api apiFlags
	api.register(fs)
	// The event type comes first (herald trigger TYPE --api-key …), as
	// with stripe trigger; flags before it work too.
	var typ string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		typ, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, triggerSynopsis, apiEnv); err != nil {
		return err
	}
	if typ == "" && fs.NArg() > 0 {
		typ = fs.Arg(0)
	}
	if _, ok := triggers[typ]; !ok {
		return usageError{fmt.Errorf("usage: herald trigger EVENT --api-key sk_…, where EVENT is one of %s",
			strings.Join([]string{webhook.TypeCheckoutSessionCompleted, webhook.TypeCheckoutSessionExpired,
				webhook.TypeChargeSucceeded, webhook.TypeChargeFailed}, ", "))}
	}
	if err := api.validate(fs, getenv); err != nil {
		return usageError{err}
	}
	jar, _ := cookiejar.New(nil) // cannot fail without options
	t := &trigger{api: api, http: &http.Client{Timeout: 30 * time.Second, Jar: jar,
		// The success page is the merchant's: stop at Herald's redirect.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	sessionID, payURL, err := t.createSession(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Setting up fixture for: %s (%s)\n", typ, triggers[typ])
	fmt.Fprintf(stdout, "Created checkout session %s\n", sessionID)
	switch typ {
	case webhook.TypeCheckoutSessionExpired:
		if err := t.post(ctx, "/v1/checkout/sessions/"+sessionID+"/expire"); err != nil {
			return fmt.Errorf("expire %s: %w", sessionID, err)
		}
		fmt.Fprintf(stdout, "Expired checkout session %s\n", sessionID)
	case webhook.TypeChargeFailed:
		if err := t.pay(ctx, payURL, triggerCardDeclined, http.StatusPaymentRequired); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Paid %s with a declined card\n", sessionID)
	default:
		if err := t.pay(ctx, payURL, triggerCardSuccess, http.StatusSeeOther); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Paid %s with 4242 4242 4242 4242\n", sessionID)
	}
	fmt.Fprintln(stdout, "Trigger succeeded! Check `herald listen` or GET /v1/events for the events.")
	return nil
}

type trigger struct {
	api  apiFlags
	http *http.Client
}

// createSession creates a one-item test session and returns its id and
// hosted page URL.
func (t *trigger) createSession(ctx context.Context) (string, string, error) {
	body, _ := json.Marshal(map[string]any{ // a literal: cannot fail
		"line_items":          []map[string]any{{"name": "Herald trigger", "unit_amount": 2000, "quantity": 1}},
		"currency":            "usd",
		"success_url":         "https://example.com/success?session_id={CHECKOUT_SESSION_ID}",
		"cancel_url":          "https://example.com/cancel",
		"client_reference_id": "herald-trigger",
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.api.url+"/v1/checkout/sessions", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	var s struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := t.do(req, &s); err != nil {
		return "", "", fmt.Errorf("create a checkout session: %w", err)
	}
	return s.ID, s.URL, nil
}

// post sends an authenticated POST without a body.
func (t *trigger) post(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.api.url+path, nil)
	if err != nil {
		return err
	}
	return t.do(req, nil)
}

func (t *trigger) do(req *http.Request, into any) error {
	req.Header.Set("Authorization", "Bearer "+t.api.key)
	resp, err := t.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readAPIError(resp)
	}
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// pay opens the hosted page like a browser (which sets its CSRF cookie),
// posts its form with the card, and expects want.
func (t *trigger) pay(ctx context.Context, payURL, card string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, payURL, nil)
	if err != nil {
		return err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("open the payment page: %w", err)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("open the payment page: %w", err)
	}
	m := csrfInput.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return fmt.Errorf("the payment page %s answered %d without a payment form", payURL, resp.StatusCode)
	}
	expiry := time.Now().AddDate(2, 0, 0).Format("01/06")
	form := url.Values{
		"csrf_token": {html.UnescapeString(string(m[1]))}, "email": {"trigger@example.com"}, "card_number": {card},
		"card_expiry": {expiry}, "card_cvc": {"123"}, "cardholder_name": {"Herald Trigger"},
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, payURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = t.http.Do(req)
	if err != nil {
		return fmt.Errorf("pay: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("paying on %s answered %d %s, not %d", payURL, resp.StatusCode, http.StatusText(resp.StatusCode), want)
	}
	return nil
}
