package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/apitest"
)

// Every /v1 route the server registers is described in api/openapi.yaml,
// and the description has no operation the server lacks. (Each exchange
// the tests make is also checked against it: see do.)
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	var served []string
	routes, ok := ts.http.Handler.(chi.Routes)
	require.True(t, ok, "the server's handler is a chi router")
	require.NoError(t, chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if strings.HasPrefix(route, "/v1/") && method != http.MethodHead {
			served = append(served, method+" "+strings.TrimSuffix(route, "/"))
		}
		return nil
	}))
	described, err := apitest.Operations()
	require.NoError(t, err)
	slices.Sort(served)
	slices.Sort(described)
	require.NotEmpty(t, served)
	require.Equal(t, described, served, "api/openapi.yaml's operations (expected) against the server's /v1 routes (actual)")
}
