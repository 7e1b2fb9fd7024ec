package accountpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/validation"
)

const keyColumns = `id, merchant_id, hint, created_at, expires_at, revoked_at`

// scanKey reads keyColumns, with the key's status at now.
func scanKey(row pgx.Row, now time.Time) (account.APIKey, error) {
	var k account.APIKey
	if err := row.Scan(&k.ID, &k.MerchantID, &k.Hint, &k.Created, &k.ExpiresAt, &k.RevokedAt); err != nil {
		return account.APIKey{}, err
	}
	k.Status = k.StatusAt(now)
	return k, nil
}

// insertKey stores a new key's digest and hint, and returns the key as
// shown once: with its Secret.
func insertKey(ctx context.Context, tx pgx.Tx, merchantID, key string, now time.Time) (account.APIKey, error) {
	k := account.APIKey{ID: account.NewKeyID(), MerchantID: merchantID, Hint: account.KeyHint(key), Created: now,
		Status: account.KeyActive, Secret: key}
	_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, hash, merchant_id, hint, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, account.KeyDigest(key), merchantID, k.Hint, now)
	if err != nil {
		return account.APIKey{}, fmt.Errorf("insert api key: %w", err)
	}
	return k, nil
}

// ListKeys implements account.Service.
func (s *Store) ListKeys(ctx context.Context, merchantID string, limit int, startingAfter string) ([]account.APIKey, bool, error) {
	args := []any{merchantID, limit + 1}
	cursor := ""
	if startingAfter != "" {
		// The cursor is read once: it must be the merchant's, and its
		// position bounds the page.
		var created time.Time
		err := s.pool.QueryRow(ctx, `SELECT created_at FROM api_keys WHERE id = $1 AND merchant_id = $2`,
			startingAfter, merchantID).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, &validation.Error{Param: "starting_after", Code: validation.CodeResourceMissing,
				Message: fmt.Sprintf("no such object: %q", startingAfter)}
		}
		if err != nil {
			return nil, false, fmt.Errorf("look up cursor: %w", err)
		}
		args = append(args, created, startingAfter)
		cursor = `AND (created_at, id) < ($3::timestamptz, $4::text) `
	}
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE merchant_id = $1 `+cursor+
		`ORDER BY created_at DESC, id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list api keys: %w", err)
	}
	now := s.Now()
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.APIKey, error) { return scanKey(row, now) })
	if err != nil {
		return nil, false, fmt.Errorf("list api keys: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}

// RollKey implements account.Service.
func (s *Store) RollKey(ctx context.Context, merchantID, keyID string, overlap time.Duration) (created, rolled account.APIKey, err error) {
	if err := account.ValidateOverlap(overlap, "expire_previous_in"); err != nil {
		return created, rolled, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.Now()
		var err error
		if rolled, err = lockKey(ctx, tx, merchantID, keyID, now); err != nil {
			return err
		}
		if !rolled.ValidAt(now) {
			return account.ErrKeyInactive
		}
		if created, err = insertKey(ctx, tx, merchantID, account.NewKey(), now); err != nil {
			return err
		}
		expires := account.RolledExpiry(rolled, now, overlap)
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $2 WHERE id = $1`, keyID, expires); err != nil {
			return fmt.Errorf("expire rolled api key: %w", err)
		}
		rolled.ExpiresAt = &expires
		rolled.Status = rolled.StatusAt(now)
		return nil
	})
	if err != nil {
		return account.APIKey{}, account.APIKey{}, err
	}
	return created, rolled, nil
}

// RevokeKey implements account.Service. The merchant's keys are locked
// together, so two revokes at once cannot both think the other key stays.
func (s *Store) RevokeKey(ctx context.Context, merchantID, keyID string) (account.APIKey, error) {
	var k account.APIKey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.Now()
		rows, err := tx.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE merchant_id = $1 ORDER BY id FOR UPDATE`, merchantID)
		if err != nil {
			return fmt.Errorf("lock api keys: %w", err)
		}
		keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.APIKey, error) { return scanKey(row, now) })
		if err != nil {
			return fmt.Errorf("lock api keys: %w", err)
		}
		found, others := false, 0
		for _, key := range keys {
			if key.ID == keyID {
				k, found = key, true
			} else if key.Status == account.KeyActive {
				others++
			}
		}
		switch {
		case !found:
			return account.ErrKeyNotFound
		case k.RevokedAt != nil:
			return nil
		case k.Status == account.KeyActive && others == 0:
			return account.ErrLastKey
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, keyID, now); err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		k.RevokedAt = &now
		k.Status = account.KeyRevoked
		return nil
	})
	if err != nil {
		return account.APIKey{}, err
	}
	return k, nil
}

// lockKey reads one of the merchant's keys FOR UPDATE in tx. Errors:
// account.ErrKeyNotFound.
func lockKey(ctx context.Context, tx pgx.Tx, merchantID, keyID string, now time.Time) (account.APIKey, error) {
	k, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
		keyID, merchantID), now)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.APIKey{}, account.ErrKeyNotFound
	}
	if err != nil {
		return account.APIKey{}, fmt.Errorf("lock api key: %w", err)
	}
	return k, nil
}
