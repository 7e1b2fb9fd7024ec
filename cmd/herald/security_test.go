package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Secret API keys and webhook signing secrets are never stored or logged
// in the clear: keys are hashed, signing secrets sealed, and neither shows
// in a log line, even after they were used.
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	t.Parallel()

	f := newDeliveryFixture(t, nil)
	first := f.endpoint["secret"].(string)
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 3600})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	second := r.Body["secret"].(string)
	f.pay(t)
	f.sink.waitRequests(t, 1)
	// A wrong key is logged as little as a right one.
	require.Equal(t, http.StatusUnauthorized, f.ts.call(t, http.MethodGet, "/v1/events", f.key+"x", nil).Status)

	dump := dumpDatabase(t, f.ts)
	logs := f.ts.logs.String()
	require.Contains(t, dump, f.endpointID(), "the dump covers the endpoints table")
	require.Contains(t, logs, "/v1/webhook_endpoints", "the logs cover the API requests")
	for _, secret := range []string{f.key, first, second, strings.TrimPrefix(first, "whsec_"), strings.TrimPrefix(second, "whsec_")} {
		require.NotContains(t, dump, secret)
		require.NotContains(t, logs, secret)
	}
}
