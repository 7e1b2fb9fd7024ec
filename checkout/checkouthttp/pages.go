package checkouthttp

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// maxFormBytes bounds a posted payment form; the real one is under 1 KiB.
const maxFormBytes = 16 << 10

// PagesConfig configures the hosted payment page.
type PagesConfig struct {
	// Payments runs the payment flow. Required.
	Payments checkout.PaymentService
	// CSRFKey signs form tokens. Required; shared by all Herald processes.
	CSRFKey []byte
	// PreviousCSRFKeys are accepted for tokens too: the keyring's older
	// keys, so that a form shown before a key rotation can still be sent.
	PreviousCSRFKeys [][]byte
	// SecureCookies marks cookies Secure; set it when served over https.
	SecureCookies bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// Pages serves the hosted payment page: /pay/{id}, its 3-D Secure
// challenge and its stylesheet. Pages work without JavaScript.
type Pages struct {
	cfg  PagesConfig
	tmpl map[string]*template.Template
	cop  *http.CrossOriginProtection
}

// NewPages parses the embedded templates. It panics if they do not parse:
// they are compiled into the binary, so that is a build defect.
func NewPages(cfg PagesConfig) *Pages {
	if cfg.Payments == nil || len(cfg.CSRFKey) == 0 {
		panic("checkouthttp: Payments and CSRFKey are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Pages{cfg: cfg, tmpl: map[string]*template.Template{}, cop: http.NewCrossOriginProtection()}
	for _, name := range []string{"pay", "threeds", "state"} {
		p.tmpl[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	p.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.renderState(w, r, http.StatusForbidden, nil, stateView{State: "error", Heading: "Request refused",
			Message: "This payment form was submitted from another site, so it was not processed."})
	}))
	return p
}

// Register adds the page routes to r.
func (p *Pages) Register(r chi.Router) {
	assets, _ := fs.Sub(assetFS, "assets") // cannot fail: the directory is embedded
	r.Get("/assets/pay/*", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.StripPrefix("/assets/pay/", http.FileServerFS(assets)).ServeHTTP(w, r)
	})
	r.Get("/pay/{id}", p.handlePage)
	r.Method(http.MethodPost, "/pay/{id}", p.cop.Handler(http.HandlerFunc(p.handlePay)))
	r.Get("/pay/{id}/3ds", p.handleChallengePage)
	r.Method(http.MethodPost, "/pay/{id}/3ds", p.cop.Handler(http.HandlerFunc(p.handleChallenge)))
}

// load fetches the session behind the URL, answering the not-found page
// itself when there is none.
func (p *Pages) load(w http.ResponseWriter, r *http.Request) (*checkout.CheckoutPage, bool) {
	sessionID := chi.URLParam(r, "id")
	var page *checkout.CheckoutPage
	err := checkout.ErrNotFound
	if id.HasPrefix(sessionID, "cs") {
		page, err = p.cfg.Payments.Checkout(r.Context(), sessionID)
	}
	switch {
	case errors.Is(err, checkout.ErrNotFound):
		p.renderState(w, r, http.StatusNotFound, nil, stateView{State: "missing", Heading: "Checkout not found",
			Message: "This payment link is invalid. Return to the shop and start the checkout again."})
		return nil, false
	case err != nil:
		p.serverError(w, r, nil, err)
		return nil, false
	}
	return page, true
}

// closed renders the state page for a session that can no longer be paid
// and reports whether it did.
func (p *Pages) closed(w http.ResponseWriter, r *http.Request, page *checkout.CheckoutPage, status int) bool {
	sess := page.Session
	switch err := sess.Payable(p.cfg.Now()); {
	case errors.Is(err, checkout.ErrSessionComplete):
		p.renderState(w, r, http.StatusOK, page, stateView{State: "complete", Heading: "Payment complete",
			Message:  fmt.Sprintf("Your payment of %s to %s went through. Thank you!", checkout.FormatAmount(sess.AmountTotal, sess.Currency), page.Merchant.Name),
			LinkURL:  sess.SuccessRedirect(),
			LinkText: "Return to " + page.Merchant.Name})
		return true
	case errors.Is(err, checkout.ErrSessionExpired):
		p.renderState(w, r, status, page, stateView{State: "expired", Heading: "This checkout has expired",
			Message:  "The time to complete this payment ran out, and nothing was charged. Return to the shop to start again.",
			LinkURL:  sess.CancelURL,
			LinkText: "Return to " + page.Merchant.Name})
		return true
	}
	return false
}

func (p *Pages) handlePage(w http.ResponseWriter, r *http.Request) {
	page, ok := p.load(w, r)
	if !ok || p.closed(w, r, page, http.StatusOK) {
		return
	}
	email := page.Session.CustomerEmail
	p.renderPay(w, r, http.StatusOK, page, payView{Email: email})
}

// posted reads a posted form for a payable session and checks its CSRF
// token, answering the request itself (and returning false) when any of that
// fails.
func (p *Pages) posted(w http.ResponseWriter, r *http.Request) (*checkout.CheckoutPage, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.renderState(w, r, http.StatusBadRequest, nil, stateView{State: "error", Heading: "Invalid form",
			Message: "The payment form could not be read. Go back and try again."})
		return nil, false
	}
	page, ok := p.load(w, r)
	if !ok {
		return nil, false
	}
	if page.Session.Status == checkout.StatusComplete {
		// A second submission (a double click) that arrives after the first
		// completed: send this browser where the first one went.
		http.Redirect(w, r, page.Session.SuccessRedirect(), http.StatusSeeOther)
		return nil, false
	}
	if p.closed(w, r, page, http.StatusGone) {
		return nil, false
	}
	if !p.csrfValid(r, page.Session.ID) {
		p.renderState(w, r, http.StatusForbidden, page, stateView{State: "error", Heading: "This page has expired",
			Message: "For your security, reload the payment page and enter your details again. Nothing was charged.",
			LinkURL: "/pay/" + page.Session.ID, LinkText: "Reload the payment page"})
		return nil, false
	}
	return page, true
}

func (p *Pages) handlePay(w http.ResponseWriter, r *http.Request) {
	page, ok := p.posted(w, r)
	if !ok {
		return
	}
	form, fieldErrs := parsePaymentForm(r.PostForm, page.Session.CustomerEmail, p.cfg.Now())
	view := payView{Email: form.Email, CardholderName: redisplay(form.CardholderName), Errors: fieldErrs}
	if form.Email == "" {
		view.Email = redisplay(r.PostFormValue("email"))
	}
	if len(fieldErrs) > 0 {
		view.Alert = "Check the highlighted fields."
		p.renderPay(w, r, http.StatusUnprocessableEntity, page, view)
		return
	}
	res, err := p.cfg.Payments.Pay(r.Context(), checkout.PayRequest{
		SessionID: page.Session.ID, Card: form.Card, CardholderName: form.CardholderName,
		Email: form.Email, ClientIP: httpapi.ClientAddr(r),
	})
	p.respond(w, r, page, res, err, view)
}

func (p *Pages) handleChallengePage(w http.ResponseWriter, r *http.Request) {
	page, ok := p.load(w, r)
	if !ok || p.closed(w, r, page, http.StatusOK) {
		return
	}
	if page.PendingAuthentication == nil {
		http.Redirect(w, r, "/pay/"+page.Session.ID, http.StatusSeeOther)
		return
	}
	c := page.PendingAuthentication
	v := p.baseView(w, r, page, "Confirm your payment")
	p.render(w, r, http.StatusOK, "threeds", v, struct {
		baseView
		Card string
	}{v, strings.ToUpper(c.Brand[:1]) + c.Brand[1:] + " •••• " + c.Last4})
}

func (p *Pages) handleChallenge(w http.ResponseWriter, r *http.Request) {
	page, ok := p.posted(w, r)
	if !ok {
		return
	}
	result := r.PostFormValue("result")
	if result != "authenticated" && result != "failed" {
		http.Redirect(w, r, "/pay/"+page.Session.ID+"/3ds", http.StatusSeeOther)
		return
	}
	res, err := p.cfg.Payments.Authenticate(r.Context(), page.Session.ID, result == "authenticated")
	if errors.Is(err, checkout.ErrNoPendingAuthentication) {
		http.Redirect(w, r, "/pay/"+page.Session.ID, http.StatusSeeOther)
		return
	}
	p.respond(w, r, page, res, err, payView{Email: page.Session.CustomerEmail})
}

// respond turns a payment attempt's result into the next page: the
// merchant's success URL, the 3-D Secure challenge, or the form again with
// the decline explained.
func (p *Pages) respond(w http.ResponseWriter, r *http.Request, page *checkout.CheckoutPage, res *checkout.PayResult, err error, view payView) {
	switch {
	case errors.Is(err, checkout.ErrSessionComplete):
		// A second submission lost the race to the first: send this browser
		// where the first one went.
		page, ok := p.load(w, r)
		if ok {
			http.Redirect(w, r, page.Session.SuccessRedirect(), http.StatusSeeOther)
		}
	case errors.Is(err, checkout.ErrSessionExpired):
		page.Session.Status = checkout.StatusExpired
		p.closed(w, r, page, http.StatusGone)
	case errors.Is(err, checkout.ErrPaymentUnconfirmed):
		// The charge may have gone through: the customer must know that
		// trying again is safe, and that it settles the first attempt.
		p.cfg.Logger.WarnContext(r.Context(), "payment outcome unconfirmed", "path", r.URL.Path, "err", err)
		view.Alert = unconfirmedAlert
		view.Errors = nil
		p.renderPay(w, r, http.StatusServiceUnavailable, page, view)
	case err != nil:
		p.serverError(w, r, page, err)
	case res.Outcome == checkout.OutcomeSucceeded:
		http.Redirect(w, r, res.Session.SuccessRedirect(), http.StatusSeeOther)
	case res.Outcome == checkout.OutcomeRequiresAuthentication:
		http.Redirect(w, r, "/pay/"+page.Session.ID+"/3ds", http.StatusSeeOther)
	default:
		view.Alert = checkout.DeclineMessage(res.Charge.FailureCode)
		if explained := checkout.BlockExplanation(res.Charge.Risk); explained != "" {
			// Test mode, Herald's only mode, says which rule blocked and
			// when to try again; a live mode would keep the plain decline.
			view.Alert = explained
		}
		view.Errors = nil
		p.renderPay(w, r, http.StatusPaymentRequired, page, view)
	}
}

// unconfirmedAlert answers checkout.ErrPaymentUnconfirmed.
const unconfirmedAlert = "We could not confirm your payment yet. You will not be charged twice: " +
	"try again in a moment, and if the payment went through you will go straight to your order."

// serverError logs err (it never holds card data: Card redacts itself) and
// shows the form again when there is one, so the customer can retry.
func (p *Pages) serverError(w http.ResponseWriter, r *http.Request, page *checkout.CheckoutPage, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), "payment page", "path", r.URL.Path, "err", err)
	if page == nil {
		p.renderState(w, r, http.StatusInternalServerError, nil, stateView{State: "error", Heading: "Something went wrong",
			Message: "We could not load this payment. Nothing was charged. Try again in a moment."})
		return
	}
	p.renderPay(w, r, http.StatusBadGateway, page, payView{Email: page.Session.CustomerEmail,
		Alert: checkout.DeclineMessage(checkout.DeclineProcessingError)})
}

// baseView is what every page template uses.
type baseView struct {
	Title      string
	Nonce      string
	Accent     template.CSS
	AccentText template.CSS
	Merchant   account.Merchant
	Initial    string
	Session    *checkout.Session
	Total      string
	CSRFToken  string
}

func (p *Pages) baseView(w http.ResponseWriter, r *http.Request, page *checkout.CheckoutPage, title string) baseView {
	v := baseView{Title: title, Nonce: newNonce(), Accent: account.DefaultAccentColor, AccentText: "#ffffff"}
	if page == nil {
		return v
	}
	v.Merchant = page.Merchant
	v.Session = page.Session
	if accent := page.Merchant.AccentColor; isHexColor(accent) {
		v.Accent = template.CSS(accent)
		v.AccentText = template.CSS(readableOn(accent))
	}
	if r, _ := utf8.DecodeRuneInString(page.Merchant.Name); r != utf8.RuneError {
		v.Initial = strings.ToUpper(string(r))
	}
	v.Total = checkout.FormatAmount(page.Session.AmountTotal, page.Session.Currency)
	if page.Session.Status == checkout.StatusOpen {
		v.CSRFToken = p.csrfToken(w, r, page.Session.ID)
	}
	return v
}

type payView struct {
	Alert          string
	Errors         map[string]string
	Email          string
	CardholderName string
}

type itemView struct {
	Name        string
	Quantity    int64
	UnitAmount  string
	AmountTotal string
	ImageURL    string
}

func (p *Pages) renderPay(w http.ResponseWriter, r *http.Request, status int, page *checkout.CheckoutPage, pv payView) {
	sess := page.Session
	items := make([]itemView, 0, len(sess.LineItems))
	for _, li := range sess.LineItems {
		items = append(items, itemView{Name: li.Name, Quantity: li.Quantity, ImageURL: li.ImageURL,
			UnitAmount: checkout.FormatAmount(li.UnitAmount, sess.Currency), AmountTotal: checkout.FormatAmount(li.AmountTotal, sess.Currency)})
	}
	base := p.baseView(w, r, page, "Pay "+page.Merchant.Name)
	p.render(w, r, status, "pay", base, struct {
		baseView
		payView
		Items       []itemView
		Subtotal    string
		EmailLocked bool
	}{
		baseView: base, payView: pv, Items: items,
		Subtotal: checkout.FormatAmount(sess.AmountSubtotal, sess.Currency), EmailLocked: sess.CustomerEmail != "",
	})
}

type stateView struct {
	State    string // complete, expired, missing, error
	Heading  string
	Message  string
	LinkURL  string
	LinkText string
}

func (p *Pages) renderState(w http.ResponseWriter, r *http.Request, status int, page *checkout.CheckoutPage, sv stateView) {
	base := p.baseView(w, r, page, sv.Heading)
	p.render(w, r, status, "state", base, struct {
		baseView
		stateView
	}{base, sv})
}

// render executes a template into a buffer (a template error must not send
// half a page), then writes the security headers and the page.
// base is the baseView embedded in data; the CSP is built from it.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, base baseView, data any) {
	var buf bytes.Buffer
	if err := p.tmpl[name].ExecuteTemplate(&buf, name+".html", data); err != nil {
		p.cfg.Logger.ErrorContext(r.Context(), "render page", "template", name, "err", err)
		http.Error(w, "Something went wrong. Nothing was charged.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy(base.Nonce, base.Session, base.Merchant))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// contentSecurityPolicy allows no script at all, styles from Herald (plus
// the one nonce'd block setting the accent colour), images from the origins
// the merchant configured, and form posts to Herald and to the success URL
// (Chrome applies form-action to the redirect that follows a post).
func contentSecurityPolicy(nonce string, sess *checkout.Session, m account.Merchant) string {
	img := []string{"'self'", "data:"}
	form := []string{"'self'"}
	if m.LogoURL != "" {
		img = appendOrigin(img, m.LogoURL)
	}
	if sess != nil {
		for _, li := range sess.LineItems {
			if li.ImageURL != "" {
				img = appendOrigin(img, li.ImageURL)
			}
		}
		form = appendOrigin(form, sess.SuccessURL)
	}
	return "default-src 'none'; style-src 'self' 'nonce-" + nonce + "'; img-src " + strings.Join(img, " ") +
		"; form-action " + strings.Join(form, " ") + "; frame-ancestors 'none'; base-uri 'none'"
}

// appendOrigin adds raw's scheme://host[:port] to list once. URLs were
// validated on the way in, but the policy does not rely on it (a logo URL
// is set by the operator, rows may predate the validation): only an origin
// checkout.Origin accepts, letters, digits and ".-:[]" in the host, ever
// reaches the header, so no URL can add a directive or a source to it.
func appendOrigin(list []string, raw string) []string {
	origin, ok := checkout.Origin(raw)
	if !ok || slices.Contains(list, origin) {
		return list
	}
	return append(list, origin)
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 16, 32)
	return err == nil
}

// readableOn picks dark or white text for a background colour by its
// relative luminance (WCAG), so any merchant accent keeps its button legible.
func readableOn(hex string) string {
	v, _ := strconv.ParseUint(hex[1:], 16, 32)
	lin := func(c uint64) float64 {
		x := float64(c) / 255
		if x <= 0.03928 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(v>>16&0xff) + 0.7152*lin(v>>8&0xff) + 0.0722*lin(v&0xff)
	if l > 0.4 {
		return "#1a1f36"
	}
	return "#ffffff"
}
