package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/webhook"
)

// The acquirer approves, then recording the payment fails (a trigger stands
// in for a bad row or a lost connection). The customer reads a clear inline
// error on the form, not a 500 page; the charge is on record as processing.
// Their retry lands on the success URL, settling the first charge: the
// acquirer's ledger holds one approval, and the session one completion.
func TestUnconfirmedPaymentRetriesSafely(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newCheckout(t)
	pool := f.ts.Pool()
	heal := failCompletion(t, pool)

	c := formClient(t)
	token := openForm(t, c, f.payURL)
	resp, body := postForm(t, c, f.payURL, payForm(token, "4242424242424242"))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, body, `role="alert"`)
	require.Contains(t, body, "We could not confirm your payment yet. You will not be charged twice")
	require.Contains(t, body, `name="card_number"`, "the form is there to try again")
	require.NotContains(t, body, "injected fault", "the cause is logged, not shown")
	require.Contains(t, f.ts.logs.String(), "payment outcome unconfirmed")

	var status string
	require.NoError(t, pool.QueryRow(ctx, `SELECT status FROM charges`).Scan(&status))
	require.Equal(t, "processing", status)
	require.Equal(t, "open", f.session(t)["status"])
	var approved int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM acquirer_ledger WHERE status = 'approved'`).Scan(&approved))
	require.Equal(t, 1, approved, "the acquirer took the money")

	heal()
	resp, _ = postForm(t, c, f.payURL, payForm(token, "5555555555554444"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, f.shop.URL+"/success?session_id="+f.sessionID, resp.Header.Get("Location"))

	sess := f.session(t)
	require.Equal(t, "complete", sess["status"])
	require.Equal(t, "4242", sess["payment"].(map[string]any)["last4"], "paid by the first attempt's card")
	require.Equal(t, 1, f.charges(t))
	var ledger, completed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM acquirer_ledger),
		(SELECT count(*) FROM events WHERE type = 'checkout.session.completed')`).Scan(&ledger, &completed))
	require.Equal(t, 1, ledger, "the retry charged nothing")
	require.Equal(t, 1, completed)
	metrics := scrape(t, f.ts)
	require.Contains(t, metrics, `herald_charges_reconciled_total{result="succeeded"} 1`)
}

// failCompletion makes the database refuse to complete any session, as a bad
// row or a broken connection would once the acquirer has approved, and
// returns the function that lifts the fault.
func failCompletion(t *testing.T, pool *pgxpool.Pool) (heal func()) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql
		AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$;
		CREATE TRIGGER injected_fault BEFORE UPDATE ON checkout_sessions
		FOR EACH ROW WHEN (NEW.status = 'complete') EXECUTE FUNCTION injected_fault()`)
	require.NoError(t, err)
	return func() {
		t.Helper()
		_, err := pool.Exec(ctx, `DROP TRIGGER injected_fault ON checkout_sessions`)
		require.NoError(t, err)
	}
}

// The customer gives up after the unconfirmed payment: the reconcile job
// completes the session on its own, and the merchant's webhook fulfils the
// order the customer paid for.
func TestUnconfirmedPaymentReconciledByJob(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.ReconcileAfter = time.Second })
	s := newSink(t, nil)
	_, key := ts.newMerchant(t, "Acme")
	r := ts.call(t, http.MethodPost, "/v1/webhook_endpoints", key,
		map[string]any{"url": s.URL + "/hooks", "enabled_events": []string{webhook.TypeCheckoutSessionCompleted}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody())
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	sessionID, payURL := r.Body["id"].(string), r.Body["url"].(string)

	heal := failCompletion(t, ts.Pool())
	c := formClient(t)
	resp, _ := postForm(t, c, payURL, payForm(openForm(t, c, payURL), checkout.TestCardVisa))
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	heal()

	waitFor(t, 30*time.Second, "the reconcile job to complete the session", func() bool {
		return ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+sessionID, key, nil).Body["status"] == "complete"
	})
	var ev webhook.Event
	require.NoError(t, json.Unmarshal(s.Wait(t, 1)[0].Body, &ev))
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, ev.Type)
	var obj map[string]any
	require.NoError(t, json.Unmarshal(ev.Data.Object, &obj))
	require.Equal(t, sessionID, obj["id"])
	require.Contains(t, scrape(t, ts), `herald_charges_reconciled_total{result="succeeded"} 1`)
}

func TestReconcileAfterSetting(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		env  string
		args []string
		want time.Duration
		err  string
	}{
		{"Default", "", nil, 2 * time.Minute, ""},
		{"Env", "30s", nil, 30 * time.Second, ""},
		{"Flag", "30s", []string{"--reconcile-after", "5m"}, 5 * time.Minute, ""},
		{"TooShort", "0s", nil, 0, `invalid HERALD_RECONCILE_AFTER "0s": want a duration of at least 1s, like 30s`},
		{"NotADuration", "soon", nil, 0, `invalid HERALD_RECONCILE_AFTER "soon": want a duration of at least 1s, like 30s`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			env := map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": envDev, "HERALD_RECONCILE_AFTER": tt.env}
			cfg, ok := parseSetting(t, env, tt.args, tt.err)
			if !ok {
				return
			}
			require.Equal(t, tt.want, cfg.ReconcileAfter)
		})
	}
}
