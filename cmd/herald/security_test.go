package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/webhook"
)

// Secret API keys and webhook signing secrets are never stored or logged
// in the clear, in any encoding: keys are hashed, signing secrets sealed,
// and so are the stored answers of idempotent requests that returned them
// (the Go client sends an Idempotency-Key with every POST); none shows in a
// log line, even after they were used.
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newDeliveryFixture(t, nil)
	first := f.endpoint["secret"].(string)
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 3600})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	second := r.Body["secret"].(string)

	// Through the Go client, as a merchant does: create and roll send a
	// random Idempotency-Key each, and the answers, secrets included, are
	// kept 24 hours for replay.
	c := client.New(f.ts.URL(), f.key)
	params := client.EndpointParams{URL: client.String(f.sink.srv.URL + "/other"),
		EnabledEvents: []string{webhook.TypeCheckoutSessionCompleted}}
	created, err := c.Endpoints.Create(ctx, params)
	require.NoError(t, err)
	rolled, err := c.Endpoints.RollSecret(ctx, created.ID, time.Hour)
	require.NoError(t, err)
	// A replay answers the secret again, from the sealed copy.
	keyed, err := c.Endpoints.Create(ctx, params, client.WithIdempotencyKey("endpoint-3"))
	require.NoError(t, err)
	replayed, err := c.Endpoints.Create(ctx, params, client.WithIdempotencyKey("endpoint-3"))
	require.NoError(t, err)
	require.Equal(t, keyed.ID, replayed.ID)
	require.Equal(t, keyed.Secret, replayed.Secret, "the replay carries the secret")
	var stored int
	require.NoError(t, f.ts.Pool().QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE response_body IS NOT NULL`).Scan(&stored))
	require.Equal(t, 3, stored, "the answers carrying secrets are stored")

	f.pay(t)
	f.sink.waitRequests(t, 1)
	// A wrong key is logged as little as a right one.
	require.Equal(t, http.StatusUnauthorized, f.ts.call(t, http.MethodGet, "/v1/events", f.key+"x", nil).Status)

	dump := dumpDatabase(t, f.ts.Pool())
	logs := f.ts.logs.String()
	require.True(t, dump.contains(f.endpointID()), "the dump covers the endpoints table")
	require.Contains(t, logs, "/v1/webhook_endpoints", "the logs cover the API requests")
	places := append(dump, haystack{"the logs", []byte(logs)})
	requireAbsent(t, "the API key", f.key, places)
	requireAbsent(t, "the wrong API key", f.key+"x", places)
	for name, secret := range map[string]string{"first": first, "rolled": second, "created by the client": created.Secret,
		"rolled by the client": rolled.Secret, "replayed": keyed.Secret} {
		requireAbsent(t, "the "+name+" signing secret", secret, places)
	}
}
