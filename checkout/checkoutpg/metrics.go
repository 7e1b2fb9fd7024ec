package checkoutpg

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts checkout activity. Labels are bounded sets: never a
// merchant or session id.
type Metrics struct {
	sessions   *prometheus.CounterVec
	payments   *prometheus.CounterVec
	reconciled *prometheus.CounterVec
}

// Session events counted by herald_checkout_sessions_total.
const (
	sessionCreated   = "created"
	sessionCompleted = "completed"
	sessionExpired   = "expired"
)

// Payment outcomes counted by herald_payments_total.
const (
	paymentSucceeded  = "succeeded"
	paymentDeclined   = "declined"
	paymentBlocked    = "blocked"
	paymentChallenged = "challenged"
	paymentError      = "error"
)

// Results counted by herald_charges_reconciled_total.
const (
	reconcileSucceeded              = "succeeded"
	reconcileFailed                 = "failed"
	reconcileRequiresAuthentication = "requires_authentication"
	reconcileVoided                 = "voided"
	reconcileCanceled               = "canceled"
)

// NewMetrics registers the checkout metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_checkout_sessions_total",
			Help: "Checkout session lifecycle events, by event (created, completed, expired).",
		}, []string{"event"}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_payments_total",
			Help: "Payment attempts on the hosted page, by outcome (succeeded, declined, blocked, challenged, error).",
		}, []string{"outcome"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_charges_reconciled_total",
			Help: "Charges whose answer the payment attempt did not record, settled with the acquirer afterwards, by result " +
				"(succeeded, failed, requires_authentication, voided, canceled).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.sessions, m.payments, m.reconciled)
	// Start every series at zero so rate() and alerts see them before the
	// first event.
	for _, e := range []string{sessionCreated, sessionCompleted, sessionExpired} {
		m.sessions.WithLabelValues(e)
	}
	for _, o := range []string{paymentSucceeded, paymentDeclined, paymentBlocked, paymentChallenged, paymentError} {
		m.payments.WithLabelValues(o)
	}
	for _, r := range []string{reconcileSucceeded, reconcileFailed, reconcileRequiresAuthentication, reconcileVoided, reconcileCanceled} {
		m.reconciled.WithLabelValues(r)
	}
	return m
}
