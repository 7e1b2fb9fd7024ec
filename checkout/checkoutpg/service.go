// Package checkoutpg implements checkout's services on Postgres: sessions,
// the card vault, charges with their risk decisions, and the events written
// in the same transaction as each change.
package checkoutpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"

	"github.com/heraldpay/herald/internal/validation"
)

// EventPublisher records events, and schedules their delivery, inside the
// caller's transaction. The delivery engine implements it; checkout only
// needs this one method, so it declares it here.
type EventPublisher interface {
	// PublishTx must fail (and so roll back tx) when anything could not be
	// recorded: an event that commits must reach its endpoints.
	PublishTx(ctx context.Context, tx pgx.Tx, merchantID string, events ...webhook.Event) error
}

// JobInserter enqueues a River job in the caller's transaction. A
// *river.Client[pgx.Tx] satisfies it.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// MerchantFinder reads a merchant by id: the hosted page shows its
// branding. accountpg.Store implements it; the merchants table is its.
type MerchantFinder interface {
	// Find returns the merchant. Errors: account.ErrNotFound.
	Find(ctx context.Context, merchantID string) (account.Merchant, error)
}

// DefaultReconcileAfter is Config.ReconcileAfter's default.
const DefaultReconcileAfter = 2 * time.Minute

// Config holds a Service's collaborators and settings.
type Config struct {
	// Acquirer charges cards. Required.
	Acquirer checkout.Acquirer
	// Publisher records events in the payment transaction. Required.
	Publisher EventPublisher
	// Merchants reads the branding the hosted page shows. Required.
	Merchants MerchantFinder
	// SidePool commits what must be durable before the acquirer is called
	// (the charge, status processing, and its reconcile job), outside the
	// payment's transaction. Required, and not the Service's own pool: a
	// payment holds one of those connections for its whole attempt, so
	// taking the second from the same pool would deadlock as soon as every
	// connection is held by an attempt waiting for another.
	SidePool *pgxpool.Pool
	// Jobs enqueues reconcile jobs. Required.
	Jobs JobInserter
	// ReconcileAfter is how long after a charge is handed to the acquirer
	// its reconcile job runs, should the attempt not record the answer
	// itself. Longer than any payment request; the job waits for the
	// session's lock anyway, so a slower attempt is never reconciled under
	// its feet. Default DefaultReconcileAfter.
	ReconcileAfter time.Duration
	// FingerprintKey keys the card fingerprint HMAC. Required; every Herald
	// process must use the same one.
	FingerprintKey []byte
	// PublicURL is the base of hosted page URLs, e.g. https://pay.example.com.
	// Required.
	PublicURL string
	// FraudRules tune the built-in rules; zero fields take their defaults.
	FraudRules checkout.FraudRules
	// Metrics counts sessions and payments. Required.
	Metrics *Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now; tests move the clock.
	Now func() time.Time
}

// Service implements checkout.SessionService and checkout.PaymentService.
type Service struct {
	pool *pgxpool.Pool
	cfg  Config
}

var (
	_ checkout.SessionService = (*Service)(nil)
	_ checkout.PaymentService = (*Service)(nil)
)

// NewService returns a Service. It panics when a required collaborator is
// missing: that is a wiring bug, not a runtime condition.
func NewService(pool *pgxpool.Pool, cfg Config) *Service {
	if cfg.Acquirer == nil || cfg.Publisher == nil || cfg.Merchants == nil || cfg.SidePool == nil || cfg.Jobs == nil ||
		len(cfg.FingerprintKey) == 0 || cfg.PublicURL == "" || cfg.Metrics == nil {
		panic("checkoutpg: Acquirer, Publisher, Merchants, SidePool, Jobs, FingerprintKey, PublicURL and Metrics are required")
	}
	if cfg.SidePool == pool {
		panic("checkoutpg: SidePool must be a pool of its own")
	}
	if cfg.ReconcileAfter <= 0 {
		cfg.ReconcileAfter = DefaultReconcileAfter
	}
	cfg.FraudRules = cfg.FraudRules.WithDefaults()
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{pool: pool, cfg: cfg}
}

// sessionColumns are scanned by scanSession. The successful charge is
// joined for the session's payment summary.
const sessionColumns = `s.id, s.merchant_id, s.status, s.payment_status, s.currency, s.amount_subtotal,
	s.amount_total, s.line_items, s.success_url, s.cancel_url, s.customer_email, s.client_reference_id,
	s.metadata, s.created_at, s.expires_at, c.id, c.brand, c.last4, c.three_d_secure`

const sessionFrom = ` FROM checkout_sessions s LEFT JOIN charges c ON c.id = s.charge_id `

func (s *Service) scanSession(row pgx.Row) (*checkout.Session, error) {
	var (
		sess                            checkout.Session
		chargeID, brand, last4, threeDS *string
	)
	err := row.Scan(&sess.ID, &sess.MerchantID, &sess.Status, &sess.PaymentStatus, &sess.Currency,
		&sess.AmountSubtotal, &sess.AmountTotal, &sess.LineItems, &sess.SuccessURL, &sess.CancelURL,
		&sess.CustomerEmail, &sess.ClientReferenceID, &sess.Metadata, &sess.Created, &sess.ExpiresAt,
		&chargeID, &brand, &last4, &threeDS)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, checkout.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("scan session: %w", err)
	}
	if chargeID != nil {
		sess.Payment = &checkout.Payment{ID: *chargeID, Brand: *brand, Last4: *last4, ThreeDSecure: *threeDS}
	}
	s.setURL(&sess)
	return &sess, nil
}

func (s *Service) setURL(sess *checkout.Session) {
	sess.URL = s.cfg.PublicURL + "/pay/" + sess.ID
}

// CreateSession implements checkout.SessionService.
func (s *Service) CreateSession(ctx context.Context, merchantID string, params checkout.CreateSessionParams) (*checkout.Session, error) {
	sess, err := checkout.NewSession(params, merchantID, id.New("cs"), s.cfg.Now())
	if err != nil {
		return nil, err
	}
	_, err = s.pool.Exec(ctx, `
		INSERT INTO checkout_sessions (id, merchant_id, status, payment_status, currency, amount_subtotal,
			amount_total, line_items, success_url, cancel_url, customer_email, client_reference_id,
			metadata, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		sess.ID, sess.MerchantID, sess.Status, sess.PaymentStatus, sess.Currency, sess.AmountSubtotal,
		sess.AmountTotal, sess.LineItems, sess.SuccessURL, sess.CancelURL, sess.CustomerEmail,
		sess.ClientReferenceID, sess.Metadata, sess.Created, sess.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("insert session: %w", err)
	}
	s.setURL(sess)
	s.cfg.Metrics.sessions.WithLabelValues(sessionCreated).Inc()
	return sess, nil
}

// FindSession implements checkout.SessionService.
func (s *Service) FindSession(ctx context.Context, merchantID, sessionID string) (*checkout.Session, error) {
	return s.scanSession(s.pool.QueryRow(ctx,
		`SELECT `+sessionColumns+sessionFrom+`WHERE s.id = $1 AND s.merchant_id = $2`, sessionID, merchantID))
}

// ListSessions implements checkout.SessionService.
func (s *Service) ListSessions(ctx context.Context, merchantID string, limit int, startingAfter string) ([]*checkout.Session, bool, error) {
	args := []any{merchantID, limit + 1}
	cursor := ""
	if startingAfter != "" {
		// The cursor is read once: it must be the merchant's, and its
		// position bounds the page.
		var created time.Time
		err := s.pool.QueryRow(ctx, `SELECT created_at FROM checkout_sessions WHERE id = $1 AND merchant_id = $2`,
			startingAfter, merchantID).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, &validation.Error{Param: "starting_after", Code: validation.CodeResourceMissing,
				Message: fmt.Sprintf("no such checkout session: %q", startingAfter)}
		}
		if err != nil {
			return nil, false, fmt.Errorf("look up cursor: %w", err)
		}
		args = append(args, created, startingAfter)
		cursor = `AND (s.created_at, s.id) < ($3::timestamptz, $4::text) `
	}
	rows, err := s.pool.Query(ctx, `SELECT `+sessionColumns+sessionFrom+
		`WHERE s.merchant_id = $1 `+cursor+`ORDER BY s.created_at DESC, s.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var list []*checkout.Session
	for rows.Next() {
		sess, err := s.scanSession(rows)
		if err != nil {
			return nil, false, err
		}
		list = append(list, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list sessions: %w", err)
	}
	hasMore := len(list) > limit
	if hasMore {
		list = list[:limit]
	}
	return list, hasMore, nil
}

// ExpireSession implements checkout.SessionService.
func (s *Service) ExpireSession(ctx context.Context, merchantID, sessionID string) (*checkout.Session, error) {
	var (
		sess    *checkout.Session
		changed bool
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		sess, err = s.scanSession(tx.QueryRow(ctx,
			`SELECT `+sessionColumns+sessionFrom+`WHERE s.id = $1 AND s.merchant_id = $2 FOR UPDATE OF s`, sessionID, merchantID))
		if err != nil {
			return err
		}
		if sess.Status == checkout.StatusExpired {
			return nil
		}
		changed = true
		return s.expireTx(ctx, tx, sess, s.cfg.Now())
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.cfg.Metrics.sessions.WithLabelValues(sessionExpired).Inc()
	}
	return sess, nil
}

// expireDueSQL selects the open sessions past their expiry. 'open' is
// written out, not passed as checkout.StatusOpen: the partial index
// checkout_sessions_open_expires (WHERE status = 'open') serves the query
// only when its predicate is that literal (plans_test.go checks both).
const expireDueSQL = `SELECT ` + sessionColumns + sessionFrom + `
	WHERE s.status = 'open' AND s.expires_at <= $1
	ORDER BY s.expires_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED`

// ExpireDue expires up to limit open sessions whose expires_at has passed,
// each with its checkout.session.expired event, and returns how many it
// expired. SKIP LOCKED lets it run beside payments (a session being paid
// right now is skipped, and its payment sees the expiry itself) and beside
// another ExpireDue.
func (s *Service) ExpireDue(ctx context.Context, limit int) (int, error) {
	now := s.cfg.Now()
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, expireDueSQL, now, limit)
		if err != nil {
			return fmt.Errorf("select due sessions: %w", err)
		}
		sessions, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*checkout.Session, error) {
			return s.scanSession(row)
		})
		if err != nil {
			return err
		}
		for _, sess := range sessions {
			if err := s.expireTx(ctx, tx, sess, now); err != nil {
				return err
			}
		}
		n = len(sessions)
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.cfg.Metrics.sessions.WithLabelValues(sessionExpired).Add(float64(n))
	return n, nil
}

// expireTx expires a locked open session: status, its pending 3-D Secure
// charge if any, and the event. A charge still processing is left to its
// reconciliation, which voids an approval the expired session cannot take.
func (s *Service) expireTx(ctx context.Context, tx pgx.Tx, sess *checkout.Session, now time.Time) error {
	if err := sess.Expire(); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE checkout_sessions SET status = $3, expired_at = $2 WHERE id = $1`,
		sess.ID, now, checkout.StatusExpired); err != nil {
		return fmt.Errorf("expire session: %w", err)
	}
	if err := cancelPendingCharge(ctx, tx, sess.ID, now); err != nil {
		return err
	}
	return s.publish(ctx, tx, sess.MerchantID, now, event{webhook.TypeCheckoutSessionExpired, sess})
}

type event struct {
	typ string
	obj any
}

func (s *Service) publish(ctx context.Context, tx pgx.Tx, merchantID string, now time.Time, events ...event) error {
	envelopes := make([]webhook.Event, 0, len(events))
	for _, e := range events {
		ev, err := webhook.NewEvent(id.New("evt"), e.typ, now.Unix(), e.obj)
		if err != nil {
			return fmt.Errorf("build %s event: %w", e.typ, err)
		}
		envelopes = append(envelopes, ev)
	}
	if err := s.cfg.Publisher.PublishTx(ctx, tx, merchantID, envelopes...); err != nil {
		return fmt.Errorf("publish events: %w", err)
	}
	return nil
}
