package dashboardpg

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/internal/pgtest"
)

func TestSessions(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	store := New(pool)
	now := time.Now().Truncate(time.Microsecond)
	session := func(sessionID string, created time.Time) *dashboard.Session {
		return &dashboard.Session{ID: sessionID, Operator: "Ada", CSRFToken: "token-" + sessionID, ClientIP: "192.0.2.7",
			UserAgent: "test", Created: created, LastSeen: created, IdleExpires: created.Add(time.Hour), Expires: created.Add(12 * time.Hour)}
	}

	stale := session("dss_stale", now.Add(-2*time.Hour))
	require.NoError(t, store.CreateSession(ctx, []byte("stale"), stale))
	s := session("dss_fresh", now)
	require.NoError(t, store.CreateSession(ctx, []byte("fresh"), s))

	_, err := store.FindSession(ctx, []byte("stale"))
	require.ErrorIs(t, err, dashboard.ErrNotFound, "an expired session is deleted at the next sign-in")
	got, err := store.FindSession(ctx, []byte("fresh"))
	require.NoError(t, err)
	require.Equal(t, s, got)

	s.LastSeen, s.IdleExpires = now.Add(time.Minute), now.Add(time.Hour+time.Minute)
	require.NoError(t, store.TouchSession(ctx, s))
	got, err = store.FindSession(ctx, []byte("fresh"))
	require.NoError(t, err)
	require.Equal(t, s, got)

	require.NoError(t, store.DeleteSession(ctx, s.ID))
	_, err = store.FindSession(ctx, []byte("fresh"))
	require.ErrorIs(t, err, dashboard.ErrNotFound)
	require.NoError(t, store.DeleteSession(ctx, s.ID), "deleting twice is fine")
}

func TestAudit(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	store := New(pgtest.NewPool(t))
	at := time.Now().Truncate(time.Microsecond)
	var ids []int64
	for i := range 5 {
		auditID, err := store.RecordAudit(ctx, &dashboard.AuditEntry{At: at.Add(time.Duration(i) * time.Second), Operator: "Ada",
			SessionID: "dss_1", ClientIP: "192.0.2.7", UserAgent: "test", Action: dashboard.ActionRedriveCreate,
			MerchantID: "acct_1", Detail: map[string]string{"status": "failed"}})
		require.NoError(t, err)
		ids = append(ids, auditID)
	}
	require.NoError(t, store.FinishAudit(ctx, ids[4], dashboard.OutcomeSucceeded, "rdr_1", "started for 3 deliveries"))
	require.NoError(t, store.FinishAudit(ctx, ids[3], dashboard.OutcomeFailed, "", "endpoint is disabled"))

	page, more, err := store.ListAudit(ctx, 2, 0)
	require.NoError(t, err)
	require.True(t, more)
	require.Len(t, page, 2)
	require.Equal(t, dashboard.AuditEntry{ID: ids[4], At: at.Add(4 * time.Second), Operator: "Ada", SessionID: "dss_1",
		ClientIP: "192.0.2.7", UserAgent: "test", Action: dashboard.ActionRedriveCreate, MerchantID: "acct_1", Target: "rdr_1",
		Detail: map[string]string{"status": "failed"}, Outcome: dashboard.OutcomeSucceeded, Result: "started for 3 deliveries"}, page[0])
	require.Equal(t, dashboard.OutcomeFailed, page[1].Outcome)
	require.Empty(t, page[1].Target, "an empty target leaves it as it was")

	page, more, err = store.ListAudit(ctx, 2, page[1].ID)
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []int64{ids[2], ids[1]}, []int64{page[0].ID, page[1].ID})
	require.Equal(t, dashboard.OutcomePending, page[0].Outcome)

	page, more, err = store.ListAudit(ctx, 2, page[1].ID)
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, page, 1)
}
