package checkoutpg

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/checkout"
	"github.com/heraldpay/herald/internal/validation"
)

// Sessions are scoped to their merchant: another merchant finds none of
// them, lists none, cannot page from one, and cannot expire one.
func TestTenantScope(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	other := b.newMerchant(t, "Other")
	first, second := b.createSession(t, b.merchant, 1000), b.createSession(t, b.merchant, 2000)

	// The owner sees both, so every refusal below is the other's scope.
	own, _, err := b.svc.ListSessions(ctx, b.merchant, 10, "")
	require.NoError(t, err)
	require.Len(t, own, 2)
	_, err = b.svc.FindSession(ctx, b.merchant, first.ID)
	require.NoError(t, err)

	_, err = b.svc.FindSession(ctx, other, first.ID)
	require.ErrorIs(t, err, checkout.ErrNotFound, "FindSession")
	list, more, err := b.svc.ListSessions(ctx, other, 10, "")
	require.NoError(t, err)
	require.Empty(t, list, "ListSessions")
	require.False(t, more)
	_, _, err = b.svc.ListSessions(ctx, other, 10, second.ID)
	var verr *validation.Error
	require.ErrorAs(t, err, &verr, "ListSessions from another merchant's session")
	require.Equal(t, "starting_after", verr.Param)
	_, err = b.svc.ExpireSession(ctx, other, first.ID)
	require.ErrorIs(t, err, checkout.ErrNotFound, "ExpireSession")

	require.Equal(t, checkout.StatusOpen, b.sessionStatus(t, first.ID), "the other's expire did nothing")
	require.Empty(t, b.events(t))
}
