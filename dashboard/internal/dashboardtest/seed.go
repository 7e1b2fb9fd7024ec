// Package dashboardtest seeds a test database with merchants, endpoints,
// events, deliveries, attempts and charges exactly as the dashboard's tests need them
// (any status, any time), with plain SQL.
package dashboardtest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/webhook"
)

// Merchant creates a merchant and returns its id.
func Merchant(t testing.TB, pool *pgxpool.Pool, name string) string {
	t.Helper()
	m, _ := accounttest.NewMerchant(t, pool, name)
	return m.ID
}

// EndpointOpts shape an endpoint; zero values are an enabled, healthy one.
type EndpointOpts struct {
	URL            string
	Status         delivery.EndpointStatus
	DisabledReason string
	Paused         bool
	BreakerState   delivery.BreakerState
	NextProbeAt    *time.Time
	LastSuccessAt  *time.Time
	Created        time.Time
}

// Endpoint creates a webhook endpoint and returns its id. Its secret is not
// a real sealed one: these endpoints are never delivered to.
func Endpoint(t testing.TB, pool *pgxpool.Pool, merchantID string, o EndpointOpts) string {
	t.Helper()
	endpointID := id.New("we")
	o.URL = cmp.Or(o.URL, "https://hooks.example.com/"+endpointID)
	o.Status = cmp.Or(o.Status, delivery.EndpointEnabled)
	o.BreakerState = cmp.Or(o.BreakerState, delivery.BreakerClosed)
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	var changed *time.Time
	if o.BreakerState != delivery.BreakerClosed {
		changed = &o.Created
	}
	exec(t, pool, `INSERT INTO webhook_endpoints (id, merchant_id, url, enabled_events, status,
		disabled_reason, paused, secret_sealed, breaker_state, breaker_changed_at, breaker_next_probe_at, last_success_at,
		created_at, updated_at) VALUES ($1, $2, $3, '{*}', $4, $5, $6, 'not-sealed', $7, $8, $9, $10, $11, $11)`,
		endpointID, merchantID, o.URL, o.Status, o.DisabledReason, o.Paused, o.BreakerState, changed, o.NextProbeAt,
		o.LastSuccessAt, o.Created)
	return endpointID
}

// DeliveryOpts shape a delivery; zero values are a pending
// checkout.session.completed created now.
type DeliveryOpts struct {
	Status    delivery.Status
	EventType string
	Created   time.Time
	Held      bool
	// Orphaned leaves a pending delivery without a job, as when its job
	// was deleted: then its job_seq was bumped (migration 00012).
	Orphaned bool
	// Attempts are recorded in order, numbered from 1.
	Attempts []AttemptOpts
}

// AttemptOpts is one recorded attempt: a status code, or an error class
// without one.
type AttemptOpts struct {
	Status     int
	ErrorClass delivery.ErrorClass
	StartedAt  time.Time
	Duration   time.Duration
	Body       string
}

// Delivery creates an event and its delivery to endpointID, with its
// attempts, and returns the delivery id.
func Delivery(t testing.TB, pool *pgxpool.Pool, merchantID, endpointID string, o DeliveryOpts) string {
	t.Helper()
	o.Status = cmp.Or(o.Status, delivery.StatusPending)
	o.EventType = cmp.Or(o.EventType, webhook.TypeCheckoutSessionCompleted)
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	ev := webhook.Event{ID: id.New("evt"), Object: "event", Type: o.EventType, Created: o.Created.Unix(),
		Data: webhook.EventData{Object: json.RawMessage(`{"id":"cs_test","object":"checkout.session","amount_total":3250}`)}}
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	exec(t, pool, `INSERT INTO events (id, merchant_id, type, created_at, body) VALUES ($1, $2, $3, $4, $5)`,
		ev.ID, merchantID, ev.Type, o.Created, string(body))

	deliveryID := id.New("dlv")
	var completed, lastAttempt *time.Time
	lastStatus, lastClass := 0, delivery.ClassNone
	if n := len(o.Attempts); n > 0 {
		last := o.Attempts[n-1]
		lastAttempt, lastStatus, lastClass = &last.StartedAt, last.Status, attemptClass(last)
	}
	if o.Status != delivery.StatusPending {
		completed = &o.Created
		if lastAttempt != nil {
			completed = lastAttempt
		}
	}
	jobSeq := 0
	if o.Orphaned {
		jobSeq = 1
	}
	exec(t, pool, `INSERT INTO deliveries (id, merchant_id, event_id, endpoint_id, event_type, status, held, attempts,
		last_attempt_at, last_status_code, last_error_class, created_at, completed_at, job_seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, 0), $11, $12, $13, $14)`,
		deliveryID, merchantID, ev.ID, endpointID, o.EventType, o.Status, o.Held, len(o.Attempts), lastAttempt,
		lastStatus, lastClass, o.Created, completed, jobSeq)
	if o.Status == delivery.StatusPending && !o.Held && !o.Orphaned && len(o.Attempts) == 0 {
		// Waiting for its first attempt: its job is enqueued with it, as
		// the publisher does (the lists find such a delivery through its
		// job). Scheduled far ahead: no worker runs here.
		exec(t, pool, `INSERT INTO river_job (kind, args, queue, state, max_attempts, scheduled_at)
			VALUES ($1, jsonb_build_object('delivery_id', $2::text), $3, 'scheduled', 25, now() + interval '1 year')`,
			deliverypg.DeliverArgs{}.Kind(), deliveryID, deliverypg.QueueDelivery)
	}
	for i, a := range o.Attempts {
		trigger := delivery.TriggerInitial
		if i > 0 {
			trigger = delivery.TriggerRetry
		}
		var headers any
		if a.Status != 0 {
			headers = map[string]string{"Content-Type": "text/plain"}
		}
		exec(t, pool, `INSERT INTO delivery_attempts (id, delivery_id, number, trigger, started_at, duration_us,
			request_headers, response_status, response_headers, response_body, error_class, error_message)
			VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, 0), $9, $10, $11, $12)`,
			id.New("att"), deliveryID, i+1, trigger, a.StartedAt, a.Duration.Microseconds(),
			map[string]string{"Webhook-Id": ev.ID, "Content-Type": "application/json"}, a.Status, headers, []byte(a.Body),
			attemptClass(a), errorMessage(a))
	}
	return deliveryID
}

// exec runs one statement of the seed.
func exec(t testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func attemptClass(a AttemptOpts) delivery.ErrorClass {
	if a.ErrorClass == delivery.ClassNone && (a.Status < 200 || a.Status > 299) {
		return delivery.ClassHTTPStatus
	}
	return a.ErrorClass
}

func errorMessage(a AttemptOpts) string {
	if a.Status == 0 {
		return fmt.Sprintf("%s: dial tcp 192.0.2.1:443: the test says so", a.ErrorClass)
	}
	return ""
}

// Redrive creates a bulk redrive of failed deliveries (a row, no job) and
// returns its id.
func Redrive(t testing.TB, pool *pgxpool.Pool, merchantID string, status delivery.RedriveStatus, matched, enqueued int, created time.Time) string {
	t.Helper()
	redriveID := id.New("rdr")
	filter, err := json.Marshal(delivery.RedriveParams{Status: delivery.StatusFailed})
	require.NoError(t, err)
	exec(t, pool, `INSERT INTO redrives (id, merchant_id, filter, status, matched, enqueued, cutoff, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, redriveID, merchantID, filter, status, matched, enqueued, created)
	return redriveID
}

// ChargeOpts shape a charge; zero values are a succeeded, allowed charge
// of 10.00 USD created now.
type ChargeOpts struct {
	Status      checkout.ChargeStatus
	FailureCode string
	Decision    checkout.RiskDecision
	Reasons     []string
	ClientIP    string
	Created     time.Time
}

// Charge creates a checkout session and one charge on it (with its card
// token) and returns the charge id.
func Charge(t testing.TB, pool *pgxpool.Pool, merchantID string, o ChargeOpts) string {
	t.Helper()
	o.Status = cmp.Or(o.Status, checkout.ChargeSucceeded)
	o.Decision = cmp.Or(o.Decision, checkout.RiskAllow)
	if o.Reasons == nil {
		o.Reasons = []string{}
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	level := map[checkout.RiskDecision]string{checkout.RiskAllow: "normal", checkout.RiskChallenge: "elevated",
		checkout.RiskBlock: "highest"}[o.Decision]
	sessionID, tokenID, chargeID := id.New("cs"), id.New("tok"), id.New("ch")
	exec(t, pool, `INSERT INTO checkout_sessions (id, merchant_id, status, payment_status, currency, amount_subtotal,
		amount_total, line_items, success_url, cancel_url, created_at, expires_at)
		VALUES ($1, $2, 'open', 'unpaid', 'usd', 1000, 1000, '[]', 'https://shop.test/ok', 'https://shop.test/cart', $3, $3)`,
		sessionID, merchantID, o.Created)
	exec(t, pool, `INSERT INTO card_tokens (id, merchant_id, brand, last4, exp_month, exp_year, fingerprint)
		VALUES ($1, $2, 'visa', '4242', 12, 2040, $1)`, tokenID, merchantID)
	var ip *string
	if o.ClientIP != "" {
		ip = &o.ClientIP
	}
	exec(t, pool, `INSERT INTO charges (id, merchant_id, session_id, token_id, card_fingerprint, brand, last4,
		exp_month, exp_year, client_ip, amount, currency, status, failure_code, risk_level, risk_decision, risk_reasons,
		three_d_secure, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4, 'visa', '4242', 12, 2040, $5::inet, 1000, 'usd', $6, $7, $8, $9, $10, 'not_required', $11, $11)`,
		chargeID, merchantID, sessionID, tokenID, ip, o.Status, o.FailureCode, level, o.Decision, o.Reasons, o.Created)
	return chargeID
}
