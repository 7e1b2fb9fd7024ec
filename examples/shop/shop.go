// Package shop is Bellwether Goods, the demo merchant that `make run` starts:
// a product list, a cart, checkout through Herald's hosted page, and
// exactly-once fulfilment whichever arrives first — Herald's webhook or the
// customer's return to the success page. It uses only Herald's public
// packages (client, receiver, webhook), as any merchant would.
package shop

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/webhook"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config wires a Shop.
type Config struct {
	// DB holds the shop's tables, in their own schema. Required.
	DB *pgxpool.Pool
	// Herald is the API client, with the shop's secret key. Required.
	Herald *client.Client
	// WebhookSecrets verify Herald's webhooks (the endpoint's whsec_
	// secret; two during a rotation). Required.
	WebhookSecrets []string
	// PublicURL is where customers reach the shop, e.g.
	// http://127.0.0.1:8081; Herald sends them back there. Required.
	PublicURL string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Shop is the demo shop's HTTP handler.
type Shop struct {
	cfg       Config
	mux       *http.ServeMux
	pages     map[string]*template.Template
	store     *receiver.PostgresStore
	fulfiller *receiver.Fulfiller
}

// New creates the shop's tables if needed and returns the shop.
func New(ctx context.Context, cfg Config) (*Shop, error) {
	if cfg.DB == nil || cfg.Herald == nil || len(cfg.WebhookSecrets) == 0 || cfg.PublicURL == "" {
		return nil, errors.New("shop: DB, Herald, WebhookSecrets and PublicURL are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Shop{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	var err error
	if s.store, err = receiver.NewPostgresStore(cfg.DB, "shop.herald_once"); err != nil {
		return nil, err
	}
	if err := s.store.CreateTable(ctx); err != nil {
		return nil, err
	}
	s.fulfiller = receiver.NewFulfiller(s.store, s.fulfil)
	webhooks, err := receiver.NewHandler(s.store, cfg.WebhookSecrets...)
	if err != nil {
		return nil, err
	}
	webhooks.Logger = cfg.Logger
	webhooks.On(webhook.TypeCheckoutSessionCompleted, s.handleCompleted)

	funcs := template.FuncMap{"money": money}
	for _, name := range []string{"index", "cart", "order", "orders", "message"} {
		s.pages[name] = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	static, _ := fs.Sub(staticFS, "static") // cannot fail: embedded
	cop := http.NewCrossOriginProtection()
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /static/products/{file}", s.handlePicture)
	s.mux.HandleFunc("GET /{$}", s.handleIndex)
	s.mux.HandleFunc("GET /cart", s.handleCart)
	s.mux.Handle("POST /cart/items", cop.Handler(http.HandlerFunc(s.handleAddToCart)))
	s.mux.Handle("POST /checkout", cop.Handler(http.HandlerFunc(s.handleCheckout)))
	s.mux.HandleFunc("GET /success", s.handleSuccess)
	s.mux.HandleFunc("GET /orders", s.handleOrders)
	s.mux.HandleFunc("GET /orders/{id}", s.handleOrder)
	s.mux.Handle("POST /webhooks/herald", webhooks)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Shop) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Shop) migrate(ctx context.Context) error {
	_, err := s.cfg.DB.Exec(ctx, `
		CREATE SCHEMA IF NOT EXISTS shop;
		CREATE TABLE IF NOT EXISTS shop.cart_items (
			cart_id    text NOT NULL,
			product_id text NOT NULL,
			quantity   int NOT NULL CHECK (quantity > 0),
			PRIMARY KEY (cart_id, product_id));
		CREATE TABLE IF NOT EXISTS shop.orders (
			id            text PRIMARY KEY,
			cart_id       text NOT NULL,
			items         jsonb NOT NULL,
			amount_total  bigint NOT NULL,
			status        text NOT NULL DEFAULT 'pending',
			session_id    text NOT NULL DEFAULT '',
			fulfilled_via text NOT NULL DEFAULT '',
			fulfilled_at  timestamptz,
			fulfilments   int NOT NULL DEFAULT 0,
			created_at    timestamptz NOT NULL DEFAULT now());`)
	if err != nil {
		return fmt.Errorf("shop: create tables: %w", err)
	}
	return nil
}

const cartCookie = "bellwether_cart"

// cartID returns the browser's cart id, creating the cookie if needed.
func cartID(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cartCookie); err == nil && len(c.Value) == 32 {
		return c.Value
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: cartCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return id
}

// CartLine is a product in the cart or an order.
type CartLine struct {
	Product  Product
	Quantity int64
}

// Total is the line's price.
func (l CartLine) Total() int64 { return l.Product.Price * l.Quantity }

func (s *Shop) cart(ctx context.Context, id string) ([]CartLine, int64, error) {
	rows, err := s.cfg.DB.Query(ctx, `SELECT product_id, quantity FROM shop.cart_items WHERE cart_id = $1 ORDER BY product_id`, id)
	if err != nil {
		return nil, 0, fmt.Errorf("read cart: %w", err)
	}
	var lines []CartLine
	var total int64
	for rows.Next() {
		var productID string
		var qty int64
		if err := rows.Scan(&productID, &qty); err != nil {
			return nil, 0, err
		}
		if p, ok := productByID(productID); ok {
			lines = append(lines, CartLine{Product: p, Quantity: qty})
			total += p.Price * qty
		}
	}
	return lines, total, rows.Err()
}

type page struct {
	Title     string
	CartCount int64
}

func (s *Shop) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := s.pages[name].ExecuteTemplate(w, name+".html", data); err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "render", "page", name, "err", err)
	}
}

func (s *Shop) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.cfg.Logger.ErrorContext(r.Context(), "shop", "path", r.URL.Path, "err", err)
	s.render(w, r, http.StatusInternalServerError, "message", struct {
		page
		Heading, Message string
	}{page{Title: "Error"}, "Something went wrong", "Please try again in a moment."})
}

func (s *Shop) count(ctx context.Context, w http.ResponseWriter, r *http.Request) int64 {
	lines, _, err := s.cart(ctx, cartID(w, r))
	if err != nil {
		return 0
	}
	var n int64
	for _, l := range lines {
		n += l.Quantity
	}
	return n
}

func (s *Shop) handleIndex(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "index", struct {
		page
		Products []Product
	}{page{Title: "Shop", CartCount: s.count(r.Context(), w, r)}, catalog})
}

func (s *Shop) handleAddToCart(w http.ResponseWriter, r *http.Request) {
	p, ok := productByID(r.PostFormValue("product_id"))
	if !ok {
		http.Error(w, "unknown product", http.StatusBadRequest)
		return
	}
	_, err := s.cfg.DB.Exec(r.Context(), `INSERT INTO shop.cart_items (cart_id, product_id, quantity) VALUES ($1, $2, 1)
		ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = shop.cart_items.quantity + 1`, cartID(w, r), p.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *Shop) handleCart(w http.ResponseWriter, r *http.Request) {
	lines, total, err := s.cart(r.Context(), cartID(w, r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var n int64
	for _, l := range lines {
		n += l.Quantity
	}
	s.render(w, r, http.StatusOK, "cart", struct {
		page
		Items []CartLine
		Total int64
	}{page{Title: "Cart", CartCount: n}, lines, total})
}

// handleCheckout turns the cart into a pending order and sends the customer
// to Herald's hosted page.
func (s *Shop) handleCheckout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cart := cartID(w, r)
	lines, total, err := s.cart(ctx, cart)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(lines) == 0 {
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return
	}
	orderID := newOrderID()
	items := make([]orderItem, 0, len(lines))
	params := client.CreateSessionParams{
		Currency:          "usd",
		SuccessURL:        s.cfg.PublicURL + "/success?session_id={CHECKOUT_SESSION_ID}",
		CancelURL:         s.cfg.PublicURL + "/cart",
		ClientReferenceID: orderID,
		Metadata:          map[string]string{"order_id": orderID},
	}
	for _, l := range lines {
		items = append(items, orderItem{Name: l.Product.Name, Quantity: l.Quantity, Total: l.Total()})
		params.LineItems = append(params.LineItems, client.LineItemParams{
			Name: l.Product.Name, UnitAmount: l.Product.Price, Quantity: l.Quantity,
			ImageURL: s.cfg.PublicURL + "/static/products/" + l.Product.ID + ".svg",
		})
	}
	if _, err := s.cfg.DB.Exec(ctx, `INSERT INTO shop.orders (id, cart_id, items, amount_total) VALUES ($1, $2, $3, $4)`,
		orderID, cart, items, total); err != nil {
		s.fail(w, r, err)
		return
	}
	// The order id as idempotency key: a retried request never opens a
	// second session for the same order.
	session, err := s.cfg.Herald.CreateSession(ctx, params, client.WithIdempotencyKey(orderID))
	if err != nil {
		s.fail(w, r, fmt.Errorf("create checkout session: %w", err))
		return
	}
	if _, err := s.cfg.DB.Exec(ctx, `UPDATE shop.orders SET session_id = $2 WHERE id = $1`, orderID, session.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, session.URL, http.StatusSeeOther)
}

// handleSuccess is where Herald sends the customer back. The session id in
// the URL is only a hint: the session is retrieved from Herald's API, and
// only a paid one is fulfilled.
func (s *Shop) handleSuccess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sessionID := r.URL.Query().Get("session_id")
	session, err := s.cfg.Herald.GetSession(ctx, sessionID)
	var apiErr *client.Error
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		http.Error(w, "unknown checkout session", http.StatusNotFound)
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("retrieve checkout session: %w", err))
		return
	}
	_, err = s.fulfiller.Fulfil(ctx, receiver.Session{
		ID: session.ID, Status: session.Status, PaymentStatus: session.PaymentStatus, AmountTotal: session.AmountTotal,
		Currency: session.Currency, CustomerEmail: session.CustomerEmail, ClientReferenceID: session.ClientReferenceID,
	}, receiver.ViaSuccessPage)
	if errors.Is(err, errUnknownOrder) {
		http.Error(w, "unknown order", http.StatusNotFound)
		return
	}
	if err != nil && !errors.Is(err, receiver.ErrNotPaid) {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/orders/"+session.ClientReferenceID, http.StatusSeeOther)
}

// errUnknownOrder: a paid session the shop has no order for, such as one
// created with the shop's key outside the shop.
var errUnknownOrder = errors.New("no order for this checkout session")

// handleCompleted fulfils the order of a checkout.session.completed event.
// An event for a session the shop did not create is acknowledged (200) and
// logged: retrying it would never find an order, and a receiver that
// answers 500 to what it cannot match only makes Herald retry for days and
// finally disable the endpoint.
func (s *Shop) handleCompleted(ctx context.Context, ev webhook.Event) error {
	err := s.fulfiller.HandleCompleted(ctx, ev)
	if errors.Is(err, errUnknownOrder) {
		s.cfg.Logger.WarnContext(ctx, "webhook for a checkout session the shop did not create: acknowledged, nothing to fulfil",
			"event", ev.ID, "err", err)
		return nil
	}
	return err
}

// fulfil ships an order; it runs in the receiver store's transaction, so the
// order and the "session fulfilled" mark commit together.
func (s *Shop) fulfil(ctx context.Context, session receiver.Session, via string) error {
	tx, ok := receiver.TxFromContext(ctx)
	if !ok {
		return errors.New("fulfil outside the store's transaction")
	}
	var cart string
	err := tx.QueryRow(ctx, `UPDATE shop.orders SET status = 'fulfilled', fulfilled_via = $2, fulfilled_at = now(),
		fulfilments = fulfilments + 1, session_id = $3 WHERE id = $1 RETURNING cart_id`,
		session.ClientReferenceID, via, session.ID).Scan(&cart)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: session %s, client_reference_id %q", errUnknownOrder, session.ID, session.ClientReferenceID)
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM shop.cart_items WHERE cart_id = $1`, cart)
	return err
}

type orderItem struct {
	Name     string `json:"name"`
	Quantity int64  `json:"quantity"`
	Total    int64  `json:"total"`
}

// Order is an order as the shop shows it.
type Order struct {
	ID           string
	Items        []orderItem
	AmountTotal  int64
	Status       string
	SessionID    string
	FulfilledVia string
	FulfilledAt  *time.Time
	Fulfilments  int
	Created      time.Time
}

const orderColumns = `id, items, amount_total, status, session_id, fulfilled_via, fulfilled_at, fulfilments, created_at`

func scanOrder(row pgx.Row) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.Items, &o.AmountTotal, &o.Status, &o.SessionID, &o.FulfilledVia, &o.FulfilledAt, &o.Fulfilments, &o.Created)
	return o, err
}

// FindOrder returns an order, for tests and the order page.
func (s *Shop) FindOrder(ctx context.Context, id string) (Order, error) {
	return scanOrder(s.cfg.DB.QueryRow(ctx, `SELECT `+orderColumns+` FROM shop.orders WHERE id = $1`, id))
}

func (s *Shop) handleOrder(w http.ResponseWriter, r *http.Request) {
	o, err := s.FindOrder(r.Context(), r.PathValue("id"))
	if errors.Is(err, pgx.ErrNoRows) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "order", struct {
		page
		Order Order
	}{page{Title: "Order " + o.ID, CartCount: s.count(r.Context(), w, r)}, o})
}

func (s *Shop) handleOrders(w http.ResponseWriter, r *http.Request) {
	rows, err := s.cfg.DB.Query(r.Context(), `SELECT `+orderColumns+` FROM shop.orders ORDER BY created_at DESC LIMIT 50`)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Order, error) { return scanOrder(row) })
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "orders", struct {
		page
		Orders []Order
	}{page{Title: "Orders", CartCount: s.count(r.Context(), w, r)}, orders})
}

// handlePicture draws a product's picture: a tinted tile with its initial.
func (s *Shop) handlePicture(w http.ResponseWriter, r *http.Request) {
	p, ok := productByID(strings.TrimSuffix(r.PathValue("file"), ".svg"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 120"><rect width="120" height="120" rx="14" fill="%s"/>`+
		`<text x="60" y="78" font-family="system-ui, sans-serif" font-size="52" font-weight="700" fill="#fff" text-anchor="middle">%s</text></svg>`,
		p.Colour, template.HTMLEscapeString(p.Name[:1]))
}

func newOrderID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "ord_" + hex.EncodeToString(b)
}

// money formats cents as dollars.
func money(cents int64) string {
	return "$" + strconv.FormatInt(cents/100, 10) + "." + fmt.Sprintf("%02d", cents%100)
}
