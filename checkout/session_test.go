package checkout

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/validation"
)

func ptr[T any](v T) *T { return &v }

func validParams() CreateSessionParams {
	return CreateSessionParams{
		LineItems: []LineItemParams{
			{Name: "T-shirt", UnitAmount: ptr(int64(2000)), Quantity: ptr(int64(2))},
			{Name: "Mug", UnitAmount: ptr(int64(1250)), Quantity: ptr(int64(1)), ImageURL: "https://shop.test/mug.png"},
		},
		Currency:   "USD",
		SuccessURL: "https://shop.test/success?session_id={CHECKOUT_SESSION_ID}",
		CancelURL:  "https://shop.test/cart",
	}
}

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestNewSession(t *testing.T) {
	t.Parallel()

	s, err := NewSession(validParams(), "acct_1", "cs_1", testNow)
	require.NoError(t, err)
	require.Equal(t, StatusOpen, s.Status)
	require.Equal(t, PaymentUnpaid, s.PaymentStatus)
	require.Equal(t, "usd", s.Currency)
	require.Equal(t, int64(5250), s.AmountSubtotal)
	require.Equal(t, int64(5250), s.AmountTotal)
	require.Equal(t, int64(4000), s.LineItems[0].AmountTotal)
	require.Equal(t, testNow.Add(time.Hour), s.ExpiresAt)
}

func TestNewSessionValidation(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name   string
		modify func(p *CreateSessionParams)
		param  string
		code   string
	}{
		{"no line items", func(p *CreateSessionParams) { p.LineItems = nil }, "line_items", validation.CodeMissing},
		{"too many line items", func(p *CreateSessionParams) {
			p.LineItems = make([]LineItemParams, 101)
		}, "line_items", validation.CodeInvalid},
		{"missing name", func(p *CreateSessionParams) { p.LineItems[1].Name = "  " }, "line_items[1][name]", validation.CodeMissing},
		{"long name", func(p *CreateSessionParams) { p.LineItems[0].Name = strings.Repeat("a", 251) }, "line_items[0][name]", validation.CodeInvalid},
		{"control char in name", func(p *CreateSessionParams) { p.LineItems[0].Name = "a\x00b" }, "line_items[0][name]", validation.CodeInvalid},
		{"missing unit_amount", func(p *CreateSessionParams) { p.LineItems[0].UnitAmount = nil }, "line_items[0][unit_amount]", validation.CodeMissing},
		{"negative unit_amount", func(p *CreateSessionParams) { p.LineItems[0].UnitAmount = ptr(int64(-1)) }, "line_items[0][unit_amount]", validation.CodeInvalid},
		{"huge unit_amount", func(p *CreateSessionParams) { p.LineItems[0].UnitAmount = ptr(int64(MaxUnitAmount + 1)) }, "line_items[0][unit_amount]", validation.CodeAmountTooLarge},
		{"missing quantity", func(p *CreateSessionParams) { p.LineItems[1].Quantity = nil }, "line_items[1][quantity]", validation.CodeMissing},
		{"zero quantity", func(p *CreateSessionParams) { p.LineItems[1].Quantity = ptr(int64(0)) }, "line_items[1][quantity]", validation.CodeInvalid},
		{"huge quantity", func(p *CreateSessionParams) { p.LineItems[1].Quantity = ptr(int64(MaxQuantity + 1)) }, "line_items[1][quantity]", validation.CodeInvalid},
		{"line overflow", func(p *CreateSessionParams) {
			p.LineItems[0].UnitAmount = ptr(int64(MaxUnitAmount))
			p.LineItems[0].Quantity = ptr(int64(MaxQuantity))
		}, "line_items[0]", validation.CodeAmountTooLarge},
		{"total overflow", func(p *CreateSessionParams) {
			p.LineItems[0].UnitAmount = ptr(int64(MaxUnitAmount))
			p.LineItems[0].Quantity = ptr(int64(1))
		}, "line_items", validation.CodeAmountTooLarge},
		{"zero total", func(p *CreateSessionParams) {
			p.LineItems[0].UnitAmount = ptr(int64(0))
			p.LineItems[1].UnitAmount = ptr(int64(0))
		}, "line_items", validation.CodeAmountTooSmall},
		{"bad image", func(p *CreateSessionParams) { p.LineItems[1].ImageURL = "javascript:alert(1)" }, "line_items[1][image_url]", validation.CodeURLInvalid},
		// A ';' in the host would add a directive to the page's CSP.
		{"image host with a semicolon", func(p *CreateSessionParams) {
			p.LineItems[1].ImageURL = "https://cdn.test;script-src/mug.png"
		}, "line_items[1][image_url]", validation.CodeURLInvalid},
		{"image host with an escaped semicolon", func(p *CreateSessionParams) {
			p.LineItems[1].ImageURL = "https://cdn.test%3Bimg-src/mug.png"
		}, "line_items[1][image_url]", validation.CodeURLInvalid},
		{"image host with a quote", func(p *CreateSessionParams) { p.LineItems[1].ImageURL = "https://cdn.test'/mug.png" }, "line_items[1][image_url]", validation.CodeURLInvalid},
		{"image host with an underscore", func(p *CreateSessionParams) { p.LineItems[1].ImageURL = "https://cdn_1.test/mug.png" }, "line_items[1][image_url]", validation.CodeURLInvalid},
		{"success_url host with a comma", func(p *CreateSessionParams) { p.SuccessURL = "https://shop.test,evil.test/ok" }, "success_url", validation.CodeURLInvalid},
		{"cancel_url with an empty port", func(p *CreateSessionParams) { p.CancelURL = "https://shop.test:/cart" }, "cancel_url", validation.CodeURLInvalid},
		{"NUL in an image URL", func(p *CreateSessionParams) { p.LineItems[1].ImageURL = "https://cdn.test/a\x00.png" }, "line_items[1][image_url]", validation.CodeInvalid},
		{"C1 in a success_url", func(p *CreateSessionParams) { p.SuccessURL = "https://shop.test/ok\u0085" }, "success_url", validation.CodeInvalid},
		{"trailing newline in a name", func(p *CreateSessionParams) { p.LineItems[0].Name = "Notebook\n" }, "line_items[0][name]", validation.CodeInvalid},
		{"NUL in a currency", func(p *CreateSessionParams) { p.Currency = "usd\x00" }, "currency", validation.CodeInvalid},
		{"NUL in an email", func(p *CreateSessionParams) { p.CustomerEmail = "jo@shop.test\x00" }, "customer_email", validation.CodeInvalid},
		{"DEL in client_reference_id", func(p *CreateSessionParams) { p.ClientReferenceID = "order\x7f" }, "client_reference_id", validation.CodeInvalid},
		{"NUL in a metadata value", func(p *CreateSessionParams) { p.Metadata = map[string]string{"note": "a\x00b"} }, "metadata[note]", validation.CodeInvalid},
		{"C1 in a metadata value", func(p *CreateSessionParams) { p.Metadata = map[string]string{"note": "\u009b31m"} }, "metadata[note]", validation.CodeInvalid},
		{"NUL in a metadata key", func(p *CreateSessionParams) { p.Metadata = map[string]string{"no\x00te": "v"} }, "metadata", validation.CodeInvalid},
		{"missing currency", func(p *CreateSessionParams) { p.Currency = "" }, "currency", validation.CodeMissing},
		{"unknown currency", func(p *CreateSessionParams) { p.Currency = "xyz" }, "currency", validation.CodeCurrencyInvalid},
		{"missing success_url", func(p *CreateSessionParams) { p.SuccessURL = "" }, "success_url", validation.CodeMissing},
		{"relative success_url", func(p *CreateSessionParams) { p.SuccessURL = "/success" }, "success_url", validation.CodeURLInvalid},
		{"ftp success_url", func(p *CreateSessionParams) { p.SuccessURL = "ftp://shop.test/" }, "success_url", validation.CodeURLInvalid},
		{"credentials in cancel_url", func(p *CreateSessionParams) { p.CancelURL = "https://u:p@shop.test/" }, "cancel_url", validation.CodeURLInvalid},
		{"long cancel_url", func(p *CreateSessionParams) { p.CancelURL = "https://shop.test/" + strings.Repeat("a", 2048) }, "cancel_url", validation.CodeURLInvalid},
		{"missing cancel_url", func(p *CreateSessionParams) { p.CancelURL = "" }, "cancel_url", validation.CodeMissing},
		{"bad email", func(p *CreateSessionParams) { p.CustomerEmail = "not-an-email" }, "customer_email", validation.CodeInvalid},
		{"email with name", func(p *CreateSessionParams) { p.CustomerEmail = "Bob <bob@shop.test>" }, "customer_email", validation.CodeInvalid},
		{"long client_reference_id", func(p *CreateSessionParams) { p.ClientReferenceID = strings.Repeat("r", 201) }, "client_reference_id", validation.CodeInvalid},
		{"too many metadata keys", func(p *CreateSessionParams) {
			p.Metadata = map[string]string{}
			for i := range 51 {
				p.Metadata[fmt.Sprintf("k%d", i)] = "v"
			}
		}, "metadata", validation.CodeInvalid},
		{"long metadata key", func(p *CreateSessionParams) { p.Metadata = map[string]string{strings.Repeat("k", 41): "v"} }, "metadata[" + strings.Repeat("k", 41) + "]", validation.CodeInvalid},
		{"empty metadata key", func(p *CreateSessionParams) { p.Metadata = map[string]string{"": "v"} }, "metadata[]", validation.CodeInvalid},
		{"long metadata value", func(p *CreateSessionParams) { p.Metadata = map[string]string{"k": strings.Repeat("v", 501)} }, "metadata[k]", validation.CodeInvalid},
		{"short expiry", func(p *CreateSessionParams) { p.ExpiresIn = ptr(int64(1799)) }, "expires_in", validation.CodeInvalid},
		{"long expiry", func(p *CreateSessionParams) { p.ExpiresIn = ptr(int64(86401)) }, "expires_in", validation.CodeInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			p := validParams()
			tt.modify(&p)
			_, err := NewSession(p, "acct_1", "cs_1", testNow)
			var verr *validation.Error
			require.ErrorAs(t, err, &verr)
			require.Equal(t, tt.param, verr.Param)
			require.Equal(t, tt.code, verr.Code)
			require.NotEmpty(t, verr.Message)
			for _, control := range []string{"NUL", "C1", "DEL", "newline"} {
				if strings.Contains(tt.name, control) {
					require.Contains(t, verr.Message, validation.MessageControl)
				}
			}
		})
	}
}

func TestNewSessionLimitsAccepted(t *testing.T) {
	t.Parallel()

	p := validParams()
	p.LineItems = []LineItemParams{{Name: "Max", UnitAmount: ptr(int64(MaxUnitAmount)), Quantity: ptr(int64(1))}}
	p.ExpiresIn = ptr(int64(MaxExpiresIn))
	p.Metadata = map[string]string{strings.Repeat("k", 40): strings.Repeat("v", 500)}
	p.CustomerEmail = "jo@shop.test"
	p.ClientReferenceID = "order-42"
	s, err := NewSession(p, "acct_1", "cs_1", testNow)
	require.NoError(t, err)
	require.Equal(t, int64(MaxAmountTotal), s.AmountTotal)
	require.Equal(t, testNow.Add(24*time.Hour), s.ExpiresAt)
}

func TestSessionTransitions(t *testing.T) {
	t.Parallel()

	newOpen := func(t *testing.T) *Session {
		t.Helper()
		s, err := NewSession(validParams(), "acct_1", "cs_1", testNow)
		require.NoError(t, err)
		return s
	}

	t.Run("CompleteOpen", func(t *testing.T) {
		t.Parallel()

		s := newOpen(t)
		require.NoError(t, s.Complete(Payment{ID: "ch_1"}, "jo@shop.test", testNow))
		require.Equal(t, StatusComplete, s.Status)
		require.Equal(t, PaymentPaid, s.PaymentStatus)
		require.Equal(t, "jo@shop.test", s.CustomerEmail)
		require.ErrorIs(t, s.Complete(Payment{ID: "ch_2"}, "", testNow), ErrSessionComplete)
		require.ErrorIs(t, s.Expire(), ErrSessionComplete)
		require.Equal(t, "ch_1", s.Payment.ID)
	})

	t.Run("CompletePastExpiry", func(t *testing.T) {
		t.Parallel()

		s := newOpen(t)
		require.ErrorIs(t, s.Complete(Payment{ID: "ch_1"}, "", s.ExpiresAt), ErrSessionExpired)
		require.Equal(t, StatusOpen, s.Status)
	})

	t.Run("Expire", func(t *testing.T) {
		t.Parallel()

		s := newOpen(t)
		require.NoError(t, s.Expire())
		require.Equal(t, StatusExpired, s.Status)
		require.NoError(t, s.Expire())
		require.ErrorIs(t, s.Complete(Payment{ID: "ch_1"}, "", testNow), ErrSessionExpired)
	})
}

func TestSuccessRedirect(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ successURL, want string }{
		{"https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}", "https://shop.test/ok?session_id=cs_abc"},
		{"https://shop.test/orders/{CHECKOUT_SESSION_ID}/thanks", "https://shop.test/orders/cs_abc/thanks"},
		{"https://shop.test/ok", "https://shop.test/ok?session_id=cs_abc"},
		{"https://shop.test/ok?order=7", "https://shop.test/ok?order=7&session_id=cs_abc"},
	} {
		t.Run(tt.successURL, func(t *testing.T) {
			t.Parallel()

			p := validParams()
			p.SuccessURL = tt.successURL
			s, err := NewSession(p, "acct_1", "cs_abc", testNow)
			require.NoError(t, err)
			require.Equal(t, tt.want, s.SuccessRedirect())
		})
	}
}

func TestSessionJSON(t *testing.T) {
	t.Parallel()

	s, err := NewSession(validParams(), "acct_1", "cs_abc", testNow)
	require.NoError(t, err)
	s.URL = "https://pay.test/pay/cs_abc"
	b, err := json.Marshal(s)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, "checkout.session", got["object"])
	require.Equal(t, "https://pay.test/pay/cs_abc", got["url"])
	require.Nil(t, got["customer_email"])
	require.Nil(t, got["payment"])
	require.InDelta(t, float64(testNow.Unix()), got["created"], 0)
	require.NotContains(t, got, "merchant_id")

	require.NoError(t, s.Complete(Payment{ID: "ch_1", Brand: "visa", Last4: "4242", ThreeDSecure: "not_required"}, "", testNow))
	b, err = json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	require.Nil(t, got["url"], "the hosted URL is only shown while the session is open")
	require.Equal(t, map[string]any{"id": "ch_1", "brand": "visa", "last4": "4242", "three_d_secure": "not_required"}, got["payment"])
}
