package deliveryhttp_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/delivery/deliveryhttp"
	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/apitest"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/servicetest"
	"github.com/heraldpay/herald/webhook"
)

// testBundle is the delivery API on a real server: the routes behind the
// httpapi middleware as cmd/herald mounts them (request ids, panics, API
// keys checked by the real account store, query checks), the real
// deliverypg.Service on its own database, and two merchants. No worker
// runs: deliveries stay where the API and the publisher put them.
type testBundle struct {
	url  string
	pool *pgxpool.Pool
	svc  *deliverypg.Service
	acme merchant
	// globex is another merchant, whose key must see none of acme's objects.
	globex merchant
	// stream serves /v1/events/stream, polling every 20 ms, three per
	// merchant at most.
	stream *deliveryhttp.Stream
}

type merchant struct{ id, key string }

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := pgtest.NewPool(t)
	logger := slog.New(slog.DiscardHandler)
	services := servicetest.New(t, pool, nil, logger)
	b := &testBundle{pool: pool, svc: services.Delivery}
	accounts := services.Accounts
	for _, m := range []*merchant{&b.acme, &b.globex} {
		created, key := accounttest.NewMerchant(t, pool, "Merchant")
		*m = merchant{created.ID, key}
	}

	b.stream = deliveryhttp.NewStream(b.svc, deliveryhttp.StreamConfig{Poll: 20 * time.Millisecond, Heartbeat: 100 * time.Millisecond,
		PerMerchant: 3, Logger: logger})
	r := chi.NewRouter()
	r.Use(httpapi.RequestIDs, httpapi.Recover(logger))
	r.Route("/v1", func(r chi.Router) {
		r.Use(httpapi.RequireKey(accounts, nil, logger), httpapi.CheckQuery(logger))
		(&deliveryhttp.API{Endpoints: b.svc, Events: b.svc, Deliveries: b.svc, Stream: b.stream, Logger: logger}).Register(r)
	})
	srv := httptest.NewServer(r)
	// Streams end before the server closes, as in herald serve.
	srv.Config.RegisterOnShutdown(b.stream.Close)
	t.Cleanup(func() { b.stream.Close(); srv.Close() })
	b.url = srv.URL
	return b
}

// do sends method path as m, with body as JSON when it is not nil, and
// holds the exchange to api/openapi.yaml; every answer is JSON.
func (b *testBundle) do(t *testing.T, m merchant, method, path string, body any) apitest.Reply {
	t.Helper()
	r := apitest.Do(t, method, b.url+path, m.key, body)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	return r
}

// endpoint creates an endpoint of m through the API and returns its id.
func (b *testBundle) endpoint(t *testing.T, m merchant, events ...string) string {
	t.Helper()
	r := b.do(t, m, http.MethodPost, "/v1/webhook_endpoints", map[string]any{"url": "https://hooks.example.com/" + id.Random(6),
		"enabled_events": events})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	return r.Body["id"].(string)
}

// publish commits an event of type typ for m, as checkout does, and
// returns its id.
func (b *testBundle) publish(t *testing.T, m merchant, typ string) string {
	t.Helper()
	ev, err := webhook.NewEvent(id.New("evt"), typ, time.Now().Unix(), map[string]string{"object": "test"})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error { return b.svc.PublishTx(ctx, tx, m.id, ev) }))
	return ev.ID
}

// requireError checks an error answer's status, code and parameter.
func requireError(t *testing.T, r apitest.Reply, status int, code, param string) {
	t.Helper()
	require.Equal(t, status, r.Status, r.Body)
	require.Equal(t, code, r.ErrorField("code"), r.Body)
	if param == "" {
		require.Nil(t, r.ErrorField("param"), r.Body)
	} else {
		require.Equal(t, param, r.ErrorField("param"), r.Body)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()

	b := setup(t)
	requireError(t, b.do(t, merchant{}, http.MethodGet, "/v1/webhook_endpoints", nil), http.StatusUnauthorized, "api_key_missing", "")
	requireError(t, b.do(t, merchant{key: "sk_test_" + id.Random(32)}, http.MethodGet, "/v1/webhook_endpoints", nil),
		http.StatusUnauthorized, "api_key_invalid", "")
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints", nil).Status)
	requireError(t, b.do(t, b.acme, http.MethodGet, "/v1/deliveries?status=%00", nil), http.StatusBadRequest, "parameter_invalid", "status")
}

func TestEndpoints(t *testing.T) {
	t.Parallel()

	b := setup(t)
	created := b.do(t, b.acme, http.MethodPost, "/v1/webhook_endpoints", map[string]any{"url": "https://hooks.example.com/a",
		"enabled_events": []string{"*"}, "description": "orders"})
	require.Equal(t, http.StatusOK, created.Status, created.Body)
	endpointID := created.Body["id"].(string)
	require.True(t, id.HasPrefix(endpointID, "we"))
	require.Equal(t, "webhook_endpoint", created.Body["object"])
	require.Equal(t, "enabled", created.Body["status"])
	secret := created.Body["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))

	got := b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints/"+endpointID, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, "orders", got.Body["description"])
	require.NotContains(t, got.Body, "secret", "the secret is shown on create and roll only")

	updated := b.do(t, b.acme, http.MethodPatch, "/v1/webhook_endpoints/"+endpointID, map[string]any{"status": "disabled"})
	require.Equal(t, http.StatusOK, updated.Status, updated.Body)
	require.Equal(t, "disabled", updated.Body["status"])
	require.Equal(t, delivery.DisabledReasonManual, updated.Body["disabled_reason"])

	rolled := b.do(t, b.acme, http.MethodPost, "/v1/webhook_endpoints/"+endpointID+"/roll_secret", map[string]any{"expire_previous_in": 60})
	require.Equal(t, http.StatusOK, rolled.Status, rolled.Body)
	require.True(t, strings.HasPrefix(rolled.Body["secret"].(string), "whsec_"))
	require.NotEqual(t, secret, rolled.Body["secret"])
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodPost, "/v1/webhook_endpoints/"+endpointID+"/roll_secret", nil).Status,
		"the body is optional")

	deleted := b.do(t, b.acme, http.MethodDelete, "/v1/webhook_endpoints/"+endpointID, nil)
	require.Equal(t, http.StatusOK, deleted.Status)
	require.Equal(t, map[string]any{"id": endpointID, "object": "webhook_endpoint", "deleted": true}, deleted.Body)
	requireError(t, b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints/"+endpointID, nil), http.StatusNotFound, "resource_missing", "")
}

// Lists page with limit and starting_after, newest first.
func TestEndpointList(t *testing.T) {
	t.Parallel()

	b := setup(t)
	var ids []string
	for range 3 {
		ids = append(ids, b.endpoint(t, b.acme, "*"))
	}
	b.endpoint(t, b.globex, "*")

	first := b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints?limit=2", nil)
	require.Equal(t, http.StatusOK, first.Status)
	require.Equal(t, "list", first.Body["object"])
	require.Equal(t, true, first.Body["has_more"])
	page := first.Data()
	require.Equal(t, []any{ids[2], ids[1]}, []any{page[0]["id"], page[1]["id"]})
	second := b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints?limit=2&starting_after="+ids[1], nil)
	require.Equal(t, false, second.Body["has_more"])
	require.Len(t, second.Data(), 1)
	require.Equal(t, ids[0], second.Data()[0]["id"])

	requireError(t, b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints?limit=0", nil), http.StatusBadRequest, "parameter_invalid_integer", "limit")
	requireError(t, b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints?limit=abc", nil), http.StatusBadRequest, "parameter_invalid_integer", "limit")
	requireError(t, b.do(t, b.globex, http.MethodGet, "/v1/webhook_endpoints?starting_after="+ids[1], nil),
		http.StatusBadRequest, "resource_missing", "starting_after")
}

// Invalid requests get a 400 naming the parameter, and change nothing.
func TestEndpointValidation(t *testing.T) {
	t.Parallel()

	b := setup(t)
	endpointID := b.endpoint(t, b.acme, "*")
	for _, tt := range []struct {
		name         string
		method, path string
		body         any
		code, param  string
	}{
		{"no url", http.MethodPost, "/v1/webhook_endpoints", map[string]any{"enabled_events": []string{"*"}}, "parameter_missing", "url"},
		{"ftp url", http.MethodPost, "/v1/webhook_endpoints", map[string]any{"url": "ftp://hooks.example.com", "enabled_events": []string{"*"}},
			"url_invalid", "url"},
		{"unknown event type", http.MethodPost, "/v1/webhook_endpoints", map[string]any{"url": "https://hooks.example.com",
			"enabled_events": []string{"order.shipped"}}, "parameter_invalid", "enabled_events[0]"},
		{"test.ping is not for subscribing", http.MethodPatch, "/v1/webhook_endpoints/" + endpointID,
			map[string]any{"enabled_events": []string{"*", webhook.TypeTestPing}}, "parameter_invalid", "enabled_events[1]"},
		{"unknown field", http.MethodPost, "/v1/webhook_endpoints", map[string]any{"url": "https://hooks.example.com",
			"enabled_events": []string{"*"}, "colour": "red"}, "parameter_unknown", "colour"},
		{"wrong type", http.MethodPatch, "/v1/webhook_endpoints/" + endpointID, map[string]any{"paused": "yes"}, "parameter_invalid_type", "paused"},
		{"bad status", http.MethodPatch, "/v1/webhook_endpoints/" + endpointID, map[string]any{"status": "archived"}, "parameter_invalid", "status"},
		{"control character", http.MethodPatch, "/v1/webhook_endpoints/" + endpointID, map[string]any{"description": "a\x00b"},
			"parameter_invalid", "description"},
		{"overlap too long", http.MethodPost, "/v1/webhook_endpoints/" + endpointID + "/roll_secret",
			map[string]any{"expire_previous_in": int64(delivery.MaxSecretOverlap/time.Second) + 1}, "parameter_invalid", "expire_previous_in"},
		{"negative overlap", http.MethodPost, "/v1/webhook_endpoints/" + endpointID + "/roll_secret",
			map[string]any{"expire_previous_in": -1}, "parameter_invalid", "expire_previous_in"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireError(t, b.do(t, b.acme, tt.method, tt.path, tt.body), http.StatusBadRequest, tt.code, tt.param)
		})
	}
	list := b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints", nil).Data()
	require.Len(t, list, 1)
	require.Equal(t, "enabled", list[0]["status"])
	require.Empty(t, list[0]["description"])
	require.Equal(t, false, list[0]["paused"])
}

func TestEvents(t *testing.T) {
	t.Parallel()

	b := setup(t)
	completed := b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	expired := b.publish(t, b.acme, webhook.TypeCheckoutSessionExpired)
	b.publish(t, b.globex, webhook.TypeCheckoutSessionCompleted)

	got := b.do(t, b.acme, http.MethodGet, "/v1/events/"+completed, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, "event", got.Body["object"])
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, got.Body["type"])

	all := b.do(t, b.acme, http.MethodGet, "/v1/events", nil).Data()
	require.Equal(t, []any{expired, completed}, []any{all[0]["id"], all[1]["id"]}, "newest first, the merchant's own")
	require.Len(t, all, 2)
	typed := b.do(t, b.acme, http.MethodGet, "/v1/events?type="+webhook.TypeCheckoutSessionCompleted, nil).Data()
	require.Len(t, typed, 1)
	require.Equal(t, completed, typed[0]["id"])
	after := b.do(t, b.acme, http.MethodGet, "/v1/events?starting_after="+expired, nil)
	require.Len(t, after.Data(), 1)
	require.Equal(t, false, after.Body["has_more"])
	requireError(t, b.do(t, b.globex, http.MethodGet, "/v1/events?starting_after="+expired, nil),
		http.StatusBadRequest, "resource_missing", "starting_after")
}

// Every status of the deliveries list is reachable, and each filter
// narrows it.
func TestDeliveries(t *testing.T) {
	t.Parallel()

	b := setup(t)
	live := b.endpoint(t, b.acme, "*")
	off := b.endpoint(t, b.acme, "*")
	gone := b.endpoint(t, b.acme, webhook.TypeCheckoutSessionExpired)
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodPatch, "/v1/webhook_endpoints/"+off, map[string]any{"status": "disabled"}).Status)
	first := b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	second := b.publish(t, b.acme, webhook.TypeCheckoutSessionExpired)
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodDelete, "/v1/webhook_endpoints/"+gone, nil).Status)

	list := func(query string) []map[string]any {
		t.Helper()
		r := b.do(t, b.acme, http.MethodGet, "/v1/deliveries"+query, nil)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		return r.Data()
	}
	pick := func(list []map[string]any, field string) []any {
		var out []any
		for _, d := range list {
			out = append(out, d[field])
		}
		return out
	}
	// live also hears that off was disabled (an operational event).
	require.Len(t, list(""), 6)
	require.ElementsMatch(t, []any{live, live, live}, pick(list("?status=pending"), "endpoint"))
	require.ElementsMatch(t, []any{off, off}, pick(list("?status=skipped"), "endpoint"), "a disabled endpoint's deliveries are skipped, not dropped")
	require.ElementsMatch(t, []any{gone}, pick(list("?status=canceled"), "endpoint"), "deleting an endpoint cancels its pending deliveries")
	require.Empty(t, list("?status=failed"))
	require.ElementsMatch(t, []any{webhook.TypeCheckoutSessionCompleted, webhook.TypeCheckoutSessionExpired, webhook.TypeWebhookEndpointDisabled},
		pick(list("?endpoint_id="+live), "event_type"))
	require.ElementsMatch(t, []any{live, off}, pick(list("?event_id="+first), "endpoint"))
	require.ElementsMatch(t, []any{second}, pick(list("?endpoint_id="+off+"&status=skipped&event_id="+second), "event"))
	require.Empty(t, b.do(t, b.globex, http.MethodGet, "/v1/deliveries", nil).Data())
	paged := b.do(t, b.acme, http.MethodGet, "/v1/deliveries?limit=2", nil)
	require.Equal(t, true, paged.Body["has_more"])
	rest := list("?limit=10&starting_after=" + paged.Data()[1]["id"].(string))
	require.Len(t, rest, 4)
	requireError(t, b.do(t, b.acme, http.MethodGet, "/v1/deliveries?status=lost", nil), http.StatusBadRequest, "parameter_invalid", "status")

	skipped := list("?status=skipped&event_id=" + first)[0]
	got := b.do(t, b.acme, http.MethodGet, "/v1/deliveries/"+skipped["id"].(string), nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, "skipped", got.Body["status"])
	require.Equal(t, float64(0), got.Body["attempt_count"])

	// A redrive of a skipped delivery waits for its endpoint.
	redrive := "/v1/deliveries/" + skipped["id"].(string) + "/redrive"
	requireError(t, b.do(t, b.acme, http.MethodPost, redrive, nil), http.StatusConflict, "endpoint_disabled", "")
	require.Equal(t, "skipped", b.do(t, b.acme, http.MethodGet, "/v1/deliveries/"+skipped["id"].(string), nil).Body["status"])
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodPatch, "/v1/webhook_endpoints/"+off, map[string]any{"status": "enabled"}).Status)
	sent := b.do(t, b.acme, http.MethodPost, redrive, nil)
	require.Equal(t, http.StatusOK, sent.Status, sent.Body)
	require.Equal(t, "pending", sent.Body["status"])
	require.Equal(t, skipped["id"], sent.Body["id"])
}

func TestRedrives(t *testing.T) {
	t.Parallel()

	b := setup(t)
	off := b.endpoint(t, b.acme, "*")
	b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodPatch, "/v1/webhook_endpoints/"+off, map[string]any{"status": "disabled"}).Status)
	b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	b.publish(t, b.acme, webhook.TypeCheckoutSessionExpired)
	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodPatch, "/v1/webhook_endpoints/"+off, map[string]any{"status": "enabled"}).Status)

	dry := b.do(t, b.acme, http.MethodPost, "/v1/redrives", map[string]any{"endpoint_id": off, "status": "skipped", "dry_run": true})
	require.Equal(t, http.StatusOK, dry.Status, dry.Body)
	require.Equal(t, float64(2), dry.Body["matched"])
	require.Nil(t, dry.Body["id"], "a dry run is an answer, not a redrive")
	typed := b.do(t, b.acme, http.MethodPost, "/v1/redrives", map[string]any{"status": "skipped", "dry_run": true,
		"event_type": webhook.TypeCheckoutSessionExpired})
	require.Equal(t, float64(1), typed.Body["matched"])
	require.Equal(t, float64(0), b.do(t, b.globex, http.MethodPost, "/v1/redrives", map[string]any{"status": "skipped", "dry_run": true}).Body["matched"])

	created := b.do(t, b.acme, http.MethodPost, "/v1/redrives", map[string]any{"endpoint_id": off, "status": "skipped"})
	require.Equal(t, http.StatusOK, created.Status, created.Body)
	redriveID := created.Body["id"].(string)
	require.True(t, id.HasPrefix(redriveID, "rdr"))
	require.Equal(t, "queued", created.Body["status"])
	got := b.do(t, b.acme, http.MethodGet, "/v1/redrives/"+redriveID, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, float64(2), got.Body["matched"])

	canceled := b.do(t, b.acme, http.MethodPost, "/v1/redrives/"+redriveID+"/cancel", nil)
	require.Equal(t, http.StatusOK, canceled.Status, canceled.Body)
	require.Equal(t, "canceled", canceled.Body["status"])
	requireError(t, b.do(t, b.acme, http.MethodPost, "/v1/redrives/"+redriveID+"/cancel", nil), http.StatusConflict, "redrive_finished", "")

	for _, tt := range []struct {
		name        string
		body        any
		code, param string
	}{
		{"unknown event type", map[string]any{"event_type": "order.shipped"}, "parameter_invalid", "event_type"},
		{"pending cannot be redriven", map[string]any{"status": "pending"}, "parameter_invalid", "status"},
		{"window backwards", map[string]any{"since": 2000, "until": 1000}, "parameter_invalid", "until"},
		{"string for a time", map[string]any{"since": "yesterday"}, "parameter_invalid_type", "since"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireError(t, b.do(t, b.acme, http.MethodPost, "/v1/redrives", tt.body), http.StatusBadRequest, tt.code, tt.param)
		})
	}
}

// Every route with an id answers 404, the same way, for an id of another
// merchant, an unknown id and an id that is not of the route's kind: the
// three cannot be told apart.
func TestNotFound(t *testing.T) {
	t.Parallel()

	b := setup(t)
	endpointID := b.endpoint(t, b.acme, "*")
	eventID := b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	deliveryID := b.do(t, b.acme, http.MethodGet, "/v1/deliveries", nil).Data()[0]["id"].(string)
	redriveID := b.do(t, b.acme, http.MethodPost, "/v1/redrives", map[string]any{"status": "failed"}).Body["id"].(string)
	for _, tt := range []struct {
		method, path string // %s is the id
		id           string
		body         any
	}{
		{http.MethodGet, "/v1/webhook_endpoints/%s", endpointID, nil},
		{http.MethodPatch, "/v1/webhook_endpoints/%s", endpointID, map[string]any{"paused": true}},
		{http.MethodDelete, "/v1/webhook_endpoints/%s", endpointID, nil},
		{http.MethodPost, "/v1/webhook_endpoints/%s/roll_secret", endpointID, nil},
		{http.MethodPost, "/v1/webhook_endpoints/%s/test", endpointID, nil},
		{http.MethodGet, "/v1/events/%s", eventID, nil},
		{http.MethodGet, "/v1/deliveries/%s", deliveryID, nil},
		{http.MethodPost, "/v1/deliveries/%s/redrive", deliveryID, nil},
		{http.MethodGet, "/v1/redrives/%s", redriveID, nil},
		{http.MethodPost, "/v1/redrives/%s/cancel", redriveID, nil},
	} {
		prefix, _, _ := strings.Cut(tt.id, "_")
		for _, c := range []struct {
			name string
			m    merchant
			id   string
		}{
			{"another merchant's", b.globex, tt.id},
			{"unknown", b.acme, prefix + "_" + id.Random(24)},
			{"other kind", b.acme, "cs_" + id.Random(24)},
			{"garbage", b.acme, prefix + "_x-y"},
		} {
			t.Run(tt.method+" "+tt.path+" "+c.name, func(t *testing.T) {
				r := b.do(t, c.m, tt.method, strings.Replace(tt.path, "%s", c.id, 1), tt.body)
				requireError(t, r, http.StatusNotFound, "resource_missing", "")
				require.Equal(t, "No such object: '"+c.id+"'.", r.ErrorField("message"))
			})
		}
	}
	// Nothing changed for the owner.
	got := b.do(t, b.acme, http.MethodGet, "/v1/webhook_endpoints/"+endpointID, nil)
	require.Equal(t, http.StatusOK, got.Status)
	require.Equal(t, false, got.Body["paused"])
	require.Equal(t, "queued", b.do(t, b.acme, http.MethodGet, "/v1/redrives/"+redriveID, nil).Body["status"])
}

// The reconciliation filters reach the service from the query string, and
// each malformed one is a 400 naming it.
func TestEventListFilters(t *testing.T) {
	t.Parallel()

	b := setup(t)
	b.endpoint(t, b.acme, "*")
	old := b.publish(t, b.acme, webhook.TypeCheckoutSessionCompleted)
	_, err := b.pool.Exec(context.Background(), `UPDATE events SET created_at = now() - interval '2 days' WHERE id = $1`, old)
	require.NoError(t, err)
	recent := b.publish(t, b.acme, webhook.TypeCheckoutSessionExpired)
	_, err = b.pool.Exec(context.Background(), `UPDATE deliveries SET status = 'succeeded' WHERE event_id = $1`, recent)
	require.NoError(t, err)
	dayAgo := time.Now().Add(-24 * time.Hour).Unix()

	ids := func(query string) []any {
		t.Helper()
		r := b.do(t, b.acme, http.MethodGet, "/v1/events?"+query, nil)
		require.Equal(t, http.StatusOK, r.Status, r.Body)
		var out []any
		for _, ev := range r.Data() {
			out = append(out, ev["id"])
		}
		return out
	}
	require.Equal(t, []any{recent}, ids(fmt.Sprintf("created[gte]=%d", dayAgo)))
	require.Equal(t, []any{old}, ids(fmt.Sprintf("created%%5Blt%%5D=%d", dayAgo)), "brackets may come escaped")
	require.Equal(t, []any{old}, ids("delivery_success=false"))
	require.Equal(t, []any{recent}, ids("delivery_success=true"))
	require.Equal(t, []any{recent}, ids("ending_before="+old))
	require.Equal(t, []any{old}, ids("type="+webhook.TypeCheckoutSessionCompleted))

	for _, tt := range []struct {
		name, query, code, param string
	}{
		{"created not a number", "created[gte]=yesterday", "parameter_invalid_integer", "created[gte]"},
		{"created negative", "created[lt]=-5", "parameter_invalid_integer", "created[lt]"},
		{"window backwards", fmt.Sprintf("created[gte]=%d&created[lt]=%d", dayAgo, dayAgo-10), "parameter_invalid", "created[lt]"},
		{"delivery_success not a boolean", "delivery_success=no", "parameter_invalid", "delivery_success"},
		{"unknown type", "type=order.shipped", "parameter_invalid", "type"},
		{"both cursors", "starting_after=" + old + "&ending_before=" + recent, "parameter_invalid", "ending_before"},
		{"another merchant's cursor", "ending_before=" + b.publish(t, b.globex, webhook.TypeChargeFailed), "resource_missing", "ending_before"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requireError(t, b.do(t, b.acme, http.MethodGet, "/v1/events?"+tt.query, nil), http.StatusBadRequest, tt.code, tt.param)
		})
	}
}

// The test call answers with the ping's delivery, to that endpoint only;
// a disabled endpoint is refused with 409.
func TestEndpointTest(t *testing.T) {
	t.Parallel()

	b := setup(t)
	target := b.endpoint(t, b.acme, webhook.TypeChargeFailed)
	b.endpoint(t, b.acme, "*")
	r := b.do(t, b.acme, http.MethodPost, "/v1/webhook_endpoints/"+target+"/test", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	require.Equal(t, "delivery", r.Body["object"])
	require.Equal(t, webhook.TypeTestPing, r.Body["event_type"])
	require.Equal(t, target, r.Body["endpoint"])
	require.Equal(t, "pending", r.Body["status"])
	all := b.do(t, b.acme, http.MethodGet, "/v1/deliveries?event_id="+r.Body["event"].(string), nil).Data()
	require.Len(t, all, 1, "to that endpoint only")
	ev := b.do(t, b.acme, http.MethodGet, "/v1/events/"+r.Body["event"].(string), nil)
	require.Equal(t, webhook.TypeTestPing, ev.Body["type"])

	require.Equal(t, http.StatusOK, b.do(t, b.acme, http.MethodPatch, "/v1/webhook_endpoints/"+target, map[string]any{"status": "disabled"}).Status)
	requireError(t, b.do(t, b.acme, http.MethodPost, "/v1/webhook_endpoints/"+target+"/test", nil), http.StatusConflict, "endpoint_disabled", "")
}
