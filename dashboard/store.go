package dashboard

import (
	"context"
	"time"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/delivery"
)

// The dashboard reads through a read model of its own (one package,
// dashboardpg, implements all of it in SQL) and acts only through the
// delivery services, which are scoped to one merchant: every action first
// looks up the merchant of the object it touches.

// SessionStore keeps operator sessions server-side, under the SHA-256
// digest of their cookie token.
type SessionStore interface {
	// CreateSession stores s and deletes the sessions expired at s.Created.
	CreateSession(ctx context.Context, tokenDigest []byte, s *Session) error
	// FindSession returns the session whose token has this digest,
	// expired or not. Errors: ErrNotFound.
	FindSession(ctx context.Context, tokenDigest []byte) (*Session, error)
	// TouchSession records activity: LastSeen and IdleExpires.
	TouchSession(ctx context.Context, s *Session) error
	// DeleteSession ends a session; an unknown id is not an error.
	DeleteSession(ctx context.Context, sessionID string) error
}

// AuditLog records operator actions.
type AuditLog interface {
	// RecordAudit appends e and returns its id.
	RecordAudit(ctx context.Context, e *AuditEntry) (int64, error)
	// FinishAudit sets the outcome of entry id, its target when target is
	// not empty, and a one-line result.
	FinishAudit(ctx context.Context, id int64, outcome AuditOutcome, target, result string) error
	// ListAudit returns entries newest first, with ids below before when it
	// is not zero, and whether older ones follow.
	ListAudit(ctx context.Context, limit int, before int64) ([]AuditEntry, bool, error)
}

// ReadModel is what the pages show.
type ReadModel interface {
	// Overview reads the health figures as of now.
	Overview(ctx context.Context, now time.Time) (*Overview, error)
	// ListDeliveries returns a page of deliveries across merchants, newest
	// first. Errors: none beyond the database's.
	ListDeliveries(ctx context.Context, f DeliveryFilter, p PageRequest) ([]DeliveryRow, bool, error)
	// DeliveryContext returns what a delivery's page shows beside the
	// delivery itself. Errors: ErrNotFound.
	DeliveryContext(ctx context.Context, deliveryID string) (*DeliveryContext, error)
	// ListEndpoints returns a page of endpoints with their health, newest
	// first.
	ListEndpoints(ctx context.Context, f EndpointFilter, p PageRequest) ([]EndpointRow, bool, error)
	// EndpointOptions lists endpoints for a filter's drop-down, of one
	// merchant when merchantID is set, at most limit.
	EndpointOptions(ctx context.Context, merchantID string, limit int) ([]EndpointOption, error)
	// EndpointMerchant returns the merchant of an endpoint. Errors:
	// ErrNotFound.
	EndpointMerchant(ctx context.Context, endpointID string) (Merchant, error)
	// ListMerchants returns merchants by name, at most limit.
	ListMerchants(ctx context.Context, limit int) ([]Merchant, error)
	// ListRedrives returns the latest bulk redrives across merchants.
	ListRedrives(ctx context.Context, limit int) ([]RedriveRow, error)
	// RedriveMerchant returns the merchant of a bulk redrive. Errors:
	// ErrNotFound.
	RedriveMerchant(ctx context.Context, redriveID string) (Merchant, error)
	// ListPayments returns a page of charges across merchants, newest
	// first.
	ListPayments(ctx context.Context, f PaymentFilter, p PageRequest) ([]PaymentRow, bool, error)
	// Payment returns one charge with what its page shows beside it.
	// Errors: ErrNotFound.
	Payment(ctx context.Context, chargeID string) (*PaymentDetail, error)
	// Charts reads the overview's series over the ChartWindow before now.
	Charts(ctx context.Context, now time.Time) (*Charts, error)
}

// Deliveries is the part of delivery.DeliveryService the dashboard uses;
// each method, with its errors, is documented there.
type Deliveries interface {
	FindDelivery(ctx context.Context, merchantID, deliveryID string) (*delivery.Delivery, error)
	RedriveDelivery(ctx context.Context, merchantID, deliveryID string) (*delivery.Delivery, error)
	CreateRedrive(ctx context.Context, merchantID string, p delivery.RedriveParams) (*delivery.Redrive, error)
	FindRedrive(ctx context.Context, merchantID, redriveID string) (*delivery.Redrive, error)
	CancelRedrive(ctx context.Context, merchantID, redriveID string) (*delivery.Redrive, error)
}

// Endpoints is the part of delivery.EndpointService the dashboard uses
// (documented there).
type Endpoints interface {
	UpdateEndpoint(ctx context.Context, merchantID, endpointID string, p delivery.EndpointParams) (*delivery.Endpoint, error)
}

// Payments is the part of checkout.FraudService the dashboard uses
// (documented there): the velocity standing of a charge, and lifting a
// velocity block.
type Payments interface {
	Velocity(ctx context.Context, merchantID, chargeID string) (*checkout.Velocity, error)
	ClearVelocity(ctx context.Context, merchantID, chargeID string, scope checkout.VelocityScope, operator string) (*checkout.Velocity, error)
}

var (
	_ Deliveries = delivery.DeliveryService(nil)
	_ Endpoints  = delivery.EndpointService(nil)
	_ Payments   = checkout.FraudService(nil)
)

// Merchant is a merchant as the filters list it.
type Merchant struct {
	ID   string
	Name string
}

// EndpointOption is an endpoint as the filters list it.
type EndpointOption struct {
	ID           string
	URL          string
	MerchantName string
}

// DeliveryFilter narrows the deliveries list; zero fields match anything.
type DeliveryFilter struct {
	MerchantID string
	EndpointID string
	Status     delivery.Status
	EventType  string
	// Since and Until bound the deliveries' creation: Since <= created < Until.
	Since *time.Time
	Until *time.Time
}

// DeliveryRow is a delivery in the list, with the names that make it
// readable.
type DeliveryRow struct {
	delivery.Delivery
	MerchantName string
	EndpointURL  string
}

// DeliveryContext is what a delivery's page shows beside the delivery and
// its attempts, which come from the delivery service.
type DeliveryContext struct {
	MerchantID     string
	MerchantName   string
	EndpointURL    string
	EndpointStatus delivery.EndpointStatus
	// EventBody is the event exactly as it is sent.
	EventBody []byte
}

// EndpointFilter narrows the endpoints list.
type EndpointFilter struct {
	MerchantID string
	// State is "" (all) or one of EndpointStates.
	State EndpointState
}

// EndpointState is a state the endpoints list can be narrowed to;
// "attention" gathers the disabled, the paused and those whose breaker is
// not closed.
type EndpointState string

// Endpoint filter states.
const (
	StateAttention   EndpointState = "attention"
	StateEnabled     EndpointState = "enabled"
	StatePaused      EndpointState = "paused"
	StateDisabled    EndpointState = "disabled"
	StateBreakerOpen EndpointState = "breaker_open"
)

// EndpointStates lists every endpoint filter state.
var EndpointStates = []EndpointState{StateAttention, StateEnabled, StatePaused, StateDisabled, StateBreakerOpen}

// EndpointRow is an endpoint with its health.
type EndpointRow struct {
	delivery.Endpoint
	MerchantName string
	// NextProbeAt is when an open breaker lets a probe through.
	NextProbeAt *time.Time
	// BreakerChangedAt is when the breaker last changed state.
	BreakerChangedAt *time.Time
	// Updated is when the endpoint last changed (for a disabled one: when
	// it was disabled).
	Updated time.Time
	// Recent counts its latest attempted deliveries (finished or being
	// retried, at most RecentSample) and RecentSucceeded those whose last
	// attempt got a 2xx.
	Recent          int
	RecentSucceeded int
	// Skipped counts the deliveries it missed while disabled, up to
	// SkippedCap, that a redrive can still send.
	Skipped int
}

// SkippedCap bounds the count of an endpoint's skipped deliveries, so that
// a page never counts a long outage row by row; more shows as "10,000+".
const SkippedCap = 10000

// RecentSample is how many of an endpoint's latest deliveries its recent
// success rate looks at.
const RecentSample = 100

// RedriveRow is a bulk redrive with its merchant's name.
type RedriveRow struct {
	delivery.Redrive
	MerchantName string
}

// Overview is the health of the delivery engine at a glance.
type Overview struct {
	// Hour and Day are the last hour's and the last day's figures.
	Hour Window
	Day  Window
	// Lag is the first-attempt lag over the last hour.
	Lag Lag
	// Queue counts River jobs by queue and state (completed left out).
	Queue []QueueCount
	// OpenBreakers lists endpoints whose breaker is not closed, and
	// Disabled the disabled endpoints, most recent first, at most
	// OverviewListLimit each; the counts are the totals.
	OpenBreakers      []EndpointRow
	OpenBreakersCount int
	Disabled          []EndpointRow
	DisabledCount     int
	PausedCount       int
}

// OverviewListLimit bounds the endpoint lists of the overview.
const OverviewListLimit = 10

// Window is the delivery figures over a time window.
type Window struct {
	Since time.Time
	// Attempts made in the window, and those that got a 2xx.
	Attempts  int
	Succeeded int
	// Deliveries created in the window, and those of them that failed
	// (every attempt used, waiting for a redrive).
	Deliveries int
	Failed     int
	// Skipped deliveries were created for a disabled endpoint: not sent,
	// waiting for a redrive once it is enabled again.
	Skipped int
}

// SuccessRate is Succeeded / Attempts, or -1 without attempts.
func (w Window) SuccessRate() float64 {
	if w.Attempts == 0 {
		return -1
	}
	return float64(w.Succeeded) / float64(w.Attempts)
}

// Lag is the time from a delivery's commit to its first attempt.
type Lag struct {
	Count         int
	P50, P95, P99 time.Duration
}

// QueueCount is the number of River jobs in one queue and state.
type QueueCount struct {
	Queue string
	State string
	Count int
}

// PaymentFilter narrows the payments list; zero fields match anything.
type PaymentFilter struct {
	MerchantID string
	Status     checkout.ChargeStatus
	// BlockedOnly keeps the attempts the fraud rules blocked.
	BlockedOnly bool
}

// PaymentRow is a charge in the list, with the names that make it
// readable.
type PaymentRow struct {
	checkout.Charge
	MerchantName string
	// ClientIP is the address the customer paid from ("" when unknown).
	ClientIP string
}

// PaymentDetail is what a charge's page shows beside its velocity
// standing, which comes from the payments service.
type PaymentDetail struct {
	PaymentRow
	SessionStatus checkout.SessionStatus
	// Updated is when the charge last changed (its answer recorded).
	Updated time.Time
}

// AuditOutcome is how an audited action ended.
type AuditOutcome string

// Audit outcomes.
const (
	OutcomePending   AuditOutcome = "pending"
	OutcomeSucceeded AuditOutcome = "succeeded"
	OutcomeFailed    AuditOutcome = "failed"
)

// AuditEntry is one operator action.
type AuditEntry struct {
	ID int64
	At time.Time
	// Operator is the name given at sign-in; SessionID, ClientIP and
	// UserAgent say where the action came from.
	Operator  string
	SessionID string
	ClientIP  string
	UserAgent string
	// Action is what was done, e.g. "delivery.redrive" (the Action…
	// constants).
	Action     string
	MerchantID string
	// Target is the object acted on (a delivery, endpoint or redrive id).
	Target string
	// Detail holds the action's parameters, such as a bulk redrive's filter.
	Detail  map[string]string
	Outcome AuditOutcome
	// Result is a one-line outcome: the redrive started, the error.
	Result string
}

// Audited actions.
const (
	ActionSignIn          = "session.sign_in"
	ActionSignInFailed    = "session.sign_in_failed"
	ActionSignOut         = "session.sign_out"
	ActionDeliveryRedrive = "delivery.redrive"
	ActionRedriveCreate   = "redrive.create"
	ActionRedriveCancel   = "redrive.cancel"
	ActionEndpointPause   = "endpoint.pause"
	ActionEndpointResume  = "endpoint.resume"
	ActionEndpointEnable  = "endpoint.enable"
	// ActionEndpointEnableAndSend re-enables an endpoint and starts a bulk
	// redrive of the deliveries it missed (skipped) while disabled.
	ActionEndpointEnableAndSend = "endpoint.enable_and_send"
	// ActionEndpointSendMissed starts that redrive for an endpoint that is
	// already enabled.
	ActionEndpointSendMissed = "endpoint.send_missed"
	// ActionVelocityClear lifts the velocity block of a charge's session,
	// card or client IP (Detail names the scope); Target is the charge.
	ActionVelocityClear = "fraud.clear_velocity"
	// ActionKeyRoll makes a merchant a new API key and sets an expiry on
	// the one rolled; ActionKeyRevoke ends a key at once.
	ActionKeyRoll   = "api_key.roll"
	ActionKeyRevoke = "api_key.revoke"
	// ActionRiverUI is a state-changing River UI call (cancel, retry or
	// delete jobs; pause, resume or change a queue); Target is its API path.
	ActionRiverUI = "river_ui.change"
)
