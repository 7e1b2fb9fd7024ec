package checkoutpg

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/riverjob"
)

// Two queries keep a status as a literal, for their partial indexes: the
// literal must still be the typed constant's value, and the index must
// serve the query even in a generic plan, made without the arguments (as
// Postgres may settle on for a statement pgx has prepared).
func TestPartialIndexLiterals(t *testing.T) {
	t.Parallel()

	require.Contains(t, expireDueSQL, "s.status = '"+string(checkout.StatusOpen)+"'")
	require.Equal(t, 3, strings.Count(riskSignalsSQL, "status = '"+string(checkout.ChargeFailed)+"' AND risk_decision <> '"+
		string(checkout.RiskBlock)+"'"))
	require.Contains(t, sweepProcessingSQL, "c.status = '"+string(checkout.ChargeProcessing)+"'")
	pool := pgtest.NewPool(t)
	now := time.Now()
	for _, tt := range []struct {
		name string
		st   pgtest.Statement
		uses []string
	}{
		{"ExpireDue", pgtest.Statement{SQL: expireDueSQL, Args: []any{now, 100}}, []string{"checkout_sessions_open_expires"}},
		{"RiskSignals", pgtest.Statement{SQL: riskSignalsSQL, Args: []any{"cs_1", "fp", netip.MustParseAddr("192.0.2.7"), now, 5,
			checkout.ScopeSession, checkout.ScopeCard, checkout.ScopeIP}},
			// On an empty table the planner may serve all three lists from
			// either partial index: that one can is what the literal buys.
			// Clearances are read by their index too.
			[]string{"using charges_declined_", "fraud_clearances_scope_value"}},
		{"SweepProcessing", pgtest.Statement{SQL: sweepProcessingSQL, Args: []any{now, ReconcileChargeArgs{}.Kind(), riverjob.LiveStateNames(), 500}},
			[]string{"charges_one_processing_per_session"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			plan := pgtest.ExplainGeneric(t, pool, tt.st)
			for _, index := range tt.uses {
				require.Contains(t, plan, index, plan)
			}
		})
	}
}

// The typed statuses are exactly the values the schema accepts: a status
// added on one side only fails here.
func TestStatusesMatchSchema(t *testing.T) {
	t.Parallel()

	pool := pgtest.NewPool(t)
	pgtest.RequireCheckValues(t, pool, "checkout_sessions", "status", checkout.StatusOpen, checkout.StatusComplete,
		checkout.StatusExpired)
	pgtest.RequireCheckValues(t, pool, "checkout_sessions", "payment_status", checkout.PaymentUnpaid, checkout.PaymentPaid)
	pgtest.RequireCheckValues(t, pool, "charges", "status", checkout.ChargeStatuses...)
	pgtest.RequireCheckValues(t, pool, "charges", "risk_decision", checkout.RiskAllow, checkout.RiskChallenge, checkout.RiskBlock)
	pgtest.RequireCheckValues(t, pool, "fraud_clearances", "scope", checkout.VelocityScopes...)
	pgtest.RequireCheckValues(t, pool, "charges", "three_d_secure", checkout.ThreeDSNotRequired, checkout.ThreeDSRequired,
		checkout.ThreeDSAuthenticated, checkout.ThreeDSFailed)
}
