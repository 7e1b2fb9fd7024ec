package accountpg

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/clocktest"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/validation"
)

type keysBundle struct {
	pool  *pgxpool.Pool
	store *Store
	clock *clocktest.Clock
	t0    time.Time
	// otherKeyID and otherKey are the key of a bystander merchant, Other:
	// nothing a test does to its own merchant's keys may reach it.
	otherKeyID, otherKey string
}

func setupKeys(t *testing.T) *keysBundle {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	b := &keysBundle{pool: pgtest.NewPool(t), clock: clocktest.New(t0), t0: t0}
	b.store = NewStore(b.pool)
	b.store.Now = b.clock.Now
	_, b.otherKeyID, b.otherKey = b.merchant(t, "Other")
	return b
}

// merchant creates a merchant and returns it with its only key's id and
// the key.
func (b *keysBundle) merchant(t *testing.T, name string) (account.Merchant, string, string) {
	t.Helper()
	m, key, err := b.store.Create(context.Background(), account.Merchant{Name: name})
	require.NoError(t, err)
	ref, err := b.store.Authenticate(context.Background(), key)
	require.NoError(t, err)
	return m, ref.KeyID, key
}

// works reports whether key authenticates now, and as whose.
func (b *keysBundle) works(t *testing.T, key string) bool {
	t.Helper()
	_, err := b.store.Authenticate(context.Background(), key)
	if err != nil {
		require.ErrorIs(t, err, account.ErrInvalidKey)
	}
	return err == nil
}

// Rolling makes a new key, shown once and stored as a digest, and leaves
// the old one working for the overlap and not a second longer; rolling
// again never extends it; other merchants' keys are untouched.
func TestRollKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupKeys(t)
	m, oldID, oldKey := b.merchant(t, "Acme")

	created, rolled, err := b.store.RollKey(ctx, m.ID, oldID, 24*time.Hour)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(created.ID, "key_"), created.ID)
	require.True(t, strings.HasPrefix(created.Secret, account.KeyPrefix))
	require.NotEqual(t, oldKey, created.Secret)
	require.Equal(t, account.KeyHint(created.Secret), created.Hint)
	require.Equal(t, account.KeyActive, created.Status)
	require.Equal(t, oldID, rolled.ID)
	require.Equal(t, account.KeyExpiring, rolled.Status)
	require.Empty(t, rolled.Secret)
	require.WithinDuration(t, b.t0.Add(24*time.Hour), *rolled.ExpiresAt, 0)

	// Stored hashed: the new key's digest and hint, never the key.
	var hash []byte
	var row string
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT hash, row_to_json(k)::text FROM api_keys k WHERE id = $1`, created.ID).Scan(&hash, &row))
	require.Equal(t, account.KeyDigest(created.Secret), hash)
	require.NotContains(t, row, created.Secret[len(account.KeyPrefix):len(created.Secret)-4])

	ref, err := b.store.Authenticate(ctx, created.Secret)
	require.NoError(t, err)
	require.Equal(t, account.KeyRef{MerchantID: m.ID, KeyID: created.ID}, ref)

	b.clock.Set(b.t0.Add(24*time.Hour - time.Second))
	require.True(t, b.works(t, oldKey), "the old key works during the overlap")
	b.clock.Set(b.t0.Add(24 * time.Hour))
	require.False(t, b.works(t, oldKey), "and not once it is over")
	require.True(t, b.works(t, created.Secret))
	require.True(t, b.works(t, b.otherKey), "another merchant's key is untouched")

	_, _, err = b.store.RollKey(ctx, m.ID, oldID, time.Hour)
	require.ErrorIs(t, err, account.ErrKeyInactive, "an expired key cannot be rolled")

	// Rolling an expiring key again keeps its earlier expiry.
	b.clock.Set(b.t0.Add(48 * time.Hour))
	second, rolledAgain, err := b.store.RollKey(ctx, m.ID, created.ID, time.Hour)
	require.NoError(t, err)
	_, third, err := b.store.RollKey(ctx, m.ID, created.ID, 72*time.Hour)
	require.NoError(t, err)
	require.WithinDuration(t, *rolledAgain.ExpiresAt, *third.ExpiresAt, 0, "a roll never extends a key's life")

	// No overlap: the rolled key ends at once.
	_, ended, err := b.store.RollKey(ctx, m.ID, second.ID, 0)
	require.NoError(t, err)
	require.Equal(t, account.KeyExpired, ended.Status)
	require.False(t, b.works(t, second.Secret))

	_, _, err = b.store.RollKey(ctx, m.ID, b.otherKeyID, time.Hour)
	require.ErrorIs(t, err, account.ErrKeyNotFound, "another merchant's key is not found")
	require.True(t, b.works(t, b.otherKey))
	_, _, err = b.store.RollKey(ctx, m.ID, "key_missing", time.Hour)
	require.ErrorIs(t, err, account.ErrKeyNotFound)
	for _, overlap := range []time.Duration{-time.Second, account.MaxKeyOverlap + time.Second} {
		_, _, err = b.store.RollKey(ctx, m.ID, created.ID, overlap)
		var verr *validation.Error
		require.ErrorAs(t, err, &verr, overlap)
		require.Equal(t, "expire_previous_in", verr.Param)
	}
}

// Revoking ends a key at once, but never the merchant's last key that does
// not expire; revoking twice changes nothing; other merchants' keys are
// untouched.
func TestRevokeKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupKeys(t)
	m, oldID, oldKey := b.merchant(t, "Acme")

	_, err := b.store.RevokeKey(ctx, m.ID, oldID)
	require.ErrorIs(t, err, account.ErrLastKey)
	require.True(t, b.works(t, oldKey), "refused, it still works")

	created, _, err := b.store.RollKey(ctx, m.ID, oldID, 24*time.Hour)
	require.NoError(t, err)
	b.clock.Set(b.t0.Add(time.Minute))
	revoked, err := b.store.RevokeKey(ctx, m.ID, oldID)
	require.NoError(t, err)
	require.Equal(t, account.KeyRevoked, revoked.Status)
	require.WithinDuration(t, b.t0.Add(time.Minute), *revoked.RevokedAt, 0)
	require.False(t, b.works(t, oldKey), "revoked during its overlap, it fails at once")
	require.True(t, b.works(t, created.Secret))

	again, err := b.store.RevokeKey(ctx, m.ID, oldID)
	require.NoError(t, err)
	require.WithinDuration(t, *revoked.RevokedAt, *again.RevokedAt, 0, "revoking twice keeps the first time")

	_, err = b.store.RevokeKey(ctx, m.ID, created.ID)
	require.ErrorIs(t, err, account.ErrLastKey, "the old key is revoked: the new one is the last")

	_, err = b.store.RevokeKey(ctx, m.ID, b.otherKeyID)
	require.ErrorIs(t, err, account.ErrKeyNotFound)
	require.True(t, b.works(t, b.otherKey))

	// An expired key may be revoked; it is not what keeps the merchant in.
	second, _, err := b.store.RollKey(ctx, m.ID, created.ID, 0)
	require.NoError(t, err)
	_, err = b.store.RevokeKey(ctx, m.ID, created.ID)
	require.NoError(t, err)
	require.True(t, b.works(t, second.Secret))
}

// Two revokes at once of a merchant's two keys: one wins, the other is
// refused, and the merchant keeps a key.
func TestRevokeConcurrentKeepsOneKey(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupKeys(t)
	m, firstID, _ := b.merchant(t, "Acme")
	_, err := b.pool.Exec(ctx, `INSERT INTO api_keys (id, hash, merchant_id, hint) VALUES ('key_second', '\x01', $1, 'sk_test_…abcd')`, m.ID)
	require.NoError(t, err)

	errs := make(chan error, 2)
	for _, keyID := range []string{firstID, "key_second"} {
		go func() {
			_, err := b.store.RevokeKey(ctx, m.ID, keyID)
			errs <- err
		}()
	}
	var refused int
	for range 2 {
		if err := <-errs; err != nil {
			require.ErrorIs(t, err, account.ErrLastKey)
			refused++
		}
	}
	require.Equal(t, 1, refused)
	var active int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE merchant_id = $1 AND revoked_at IS NULL`, m.ID).Scan(&active))
	require.Equal(t, 1, active)
}

// Keys list newest first, paged, with their status and no secret; a cursor
// from another merchant is refused.
func TestListKeys(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setupKeys(t)
	m, firstID, _ := b.merchant(t, "Acme")
	b.clock.Set(b.t0.Add(time.Second))
	second, _, err := b.store.RollKey(ctx, m.ID, firstID, time.Hour)
	require.NoError(t, err)
	b.clock.Set(b.t0.Add(2 * time.Second))
	third, _, err := b.store.RollKey(ctx, m.ID, second.ID, 0)
	require.NoError(t, err)

	page, more, err := b.store.ListKeys(ctx, m.ID, 2, "")
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{third.ID, second.ID}, []string{page[0].ID, page[1].ID})
	require.Equal(t, []account.KeyStatus{account.KeyActive, account.KeyExpired}, []account.KeyStatus{page[0].Status, page[1].Status})
	for _, k := range page {
		require.Empty(t, k.Secret)
		require.Equal(t, m.ID, k.MerchantID)
	}
	rest, more, err := b.store.ListKeys(ctx, m.ID, 2, page[1].ID)
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, rest, 1)
	require.Equal(t, firstID, rest[0].ID)
	require.Equal(t, account.KeyExpiring, rest[0].Status)

	_, _, err = b.store.ListKeys(ctx, m.ID, 2, b.otherKeyID)
	var verr *validation.Error
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "starting_after", verr.Param)
}
