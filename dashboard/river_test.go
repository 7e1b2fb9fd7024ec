package dashboard_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
)

// River UI's state-changing calls are audited like the dashboard's own
// actions; its reads are not, and other sites cannot make them.
func TestRiverUIChangesAudited(t *testing.T) {
	t.Parallel()

	b := setup(t)
	br := b.browser(t)
	br.signIn()
	call := func(method, path, body string, headers ...string) page {
		req, err := http.NewRequest(method, b.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return br.do(req)
	}
	audited := func() int { return len(b.audit(t)) }
	before := audited()

	require.Equal(t, http.StatusOK, call(http.MethodGet, "/dashboard/river/api/jobs?state=running", "").Status)
	require.Equal(t, before, audited(), "reads are not audited")

	p := call(http.MethodPost, "/dashboard/river/api/jobs/cancel", `{"ids":["7"]}`, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusOK, p.Status)
	require.Equal(t, "River UI at /dashboard/river/api/jobs/cancel", p.Body, "River UI gets the body it was sent")
	e := b.audit(t)[0]
	require.Equal(t, dashboard.ActionRiverUI, e.Action)
	require.Equal(t, "/api/jobs/cancel", e.Target)
	require.Equal(t, map[string]string{"method": "POST", "body": `{"ids":["7"]}`}, e.Detail)
	require.Equal(t, dashboard.OutcomeSucceeded, e.Outcome)
	require.Equal(t, "HTTP 200", e.Result)
	require.Equal(t, "Ada", e.Operator)

	p = call(http.MethodPut, "/dashboard/river/api/queues/broken", `{}`)
	require.Equal(t, http.StatusBadRequest, p.Status, "River UI's own answer comes through")
	e = b.audit(t)[0]
	require.Equal(t, dashboard.OutcomeFailed, e.Outcome)
	require.Equal(t, "refused by River UI: HTTP 400", e.Result)

	hits, entries := b.riverHits.Load(), audited()
	p = call(http.MethodPost, "/dashboard/river/api/jobs/delete", `{"ids":["7"]}`, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusForbidden, p.Status)
	require.Equal(t, hits, b.riverHits.Load(), "another site's call never reaches River UI")
	require.Equal(t, entries, audited())

	p = call(http.MethodPost, "/dashboard/river/api/jobs/retry", strings.Repeat("x", 65<<10))
	require.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
	require.Equal(t, hits, b.riverHits.Load())
}
