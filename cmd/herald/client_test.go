package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/client"
)

// The public Go client against a real Herald.
func TestClientAgainstHerald(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	c := client.New(ts.URL(), key)

	params := client.CreateSessionParams{
		LineItems:         []client.LineItemParams{{Name: "Pen", UnitAmount: 250, Quantity: 4}},
		Currency:          "usd",
		SuccessURL:        "https://shop.test/ok?session_id={CHECKOUT_SESSION_ID}",
		CancelURL:         "https://shop.test/cart",
		ClientReferenceID: "order-7",
		Metadata:          map[string]string{"order_id": "7"},
	}
	s, err := c.CreateSession(ctx, params, client.WithIdempotencyKey("order-7"))
	require.NoError(t, err)
	require.Equal(t, int64(1000), s.AmountTotal)
	require.Equal(t, ts.URL()+"/pay/"+s.ID, s.URL)
	require.Equal(t, "order-7", s.ClientReferenceID)
	require.WithinDuration(t, time.Now().Add(time.Hour), s.ExpiresAt, time.Minute)

	again, err := c.CreateSession(ctx, params, client.WithIdempotencyKey("order-7"))
	require.NoError(t, err)
	require.Equal(t, s.ID, again.ID, "the idempotency key replays the first answer")

	got, err := c.GetSession(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, "open", got.Status)

	list, err := c.ListSessions(ctx, client.ListParams{Limit: 1})
	require.NoError(t, err)
	require.Len(t, list.Data, 1)
	require.False(t, list.HasMore)

	expired, err := c.ExpireSession(ctx, s.ID)
	require.NoError(t, err)
	require.Equal(t, "expired", expired.Status)

	_, err = c.GetSession(ctx, "cs_nope")
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	require.Equal(t, "resource_missing", apiErr.Code)
	require.NotEmpty(t, apiErr.RequestID)

	bad := params
	bad.Currency = "xyz"
	_, err = c.CreateSession(ctx, bad)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "currency", apiErr.Param)

	_, err = client.New(ts.URL(), "sk_test_wrong").GetSession(ctx, s.ID)
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, client.ErrorTypeAuthentication, apiErr.Type)

	e, err := c.CreateEndpoint(ctx, client.EndpointParams{URL: client.String("https://shop.test/hooks"), EnabledEvents: []string{"*"}})
	require.NoError(t, err)
	require.NotEmpty(t, e.Secret)
	e, err = c.UpdateEndpoint(ctx, e.ID, client.EndpointParams{Paused: client.Bool(true)})
	require.NoError(t, err)
	require.True(t, e.Paused)
	rolled, err := c.RollEndpointSecret(ctx, e.ID, time.Hour)
	require.NoError(t, err)
	require.NotEmpty(t, rolled.Secret)
	endpoints, err := c.ListEndpoints(ctx, client.ListParams{})
	require.NoError(t, err)
	require.Len(t, endpoints.Data, 1)
	require.NoError(t, c.DeleteEndpoint(ctx, e.ID))
	_, err = c.GetEndpoint(ctx, e.ID)
	require.True(t, errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound)
}
