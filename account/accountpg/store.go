// Package accountpg stores merchants and their API keys in PostgreSQL.
//
// It owns the merchants and api_keys tables: every write to them, every
// read of a merchant by id (the hosted page's branding goes through Find,
// by way of checkoutpg.MerchantFinder) and every key lookup happen here, so
// the rules of package account (validation, defaults, the key digest) live
// in one place. The one exception is read models: the dashboard's
// (dashboardpg) may JOIN merchants for their display names, and list them
// for its filters, but never reads api_keys and never writes either table.
package accountpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/account"
)

// Store implements account.Service on a pool.
type Store struct {
	pool *pgxpool.Pool
	// Now is the clock keys expire by. Default time.Now; set it before
	// the Store is used.
	Now func() time.Time
}

var _ account.Service = (*Store)(nil)

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, Now: time.Now} }

// Create implements account.Service.
func (s *Store) Create(ctx context.Context, m account.Merchant) (account.Merchant, string, error) {
	if err := m.Validate(); err != nil {
		return account.Merchant{}, "", err
	}
	m.ID = account.NewMerchantID()
	key := account.NewKey()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`INSERT INTO merchants (id, name, logo_url, accent_color) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			m.ID, m.Name, m.LogoURL, m.AccentColor).Scan(&m.Created)
		if err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		_, err = insertKey(ctx, tx, m.ID, key, s.Now())
		return err
	})
	if err != nil {
		return account.Merchant{}, "", err
	}
	return m, key, nil
}

// Authenticate implements account.Service. The lookup is by digest
// (account.KeyDigest), never by the key itself; it applies
// account.APIKey.ValidAt.
func (s *Store) Authenticate(ctx context.Context, key string) (account.KeyRef, error) {
	if !account.PlausibleKey(key) {
		return account.KeyRef{}, account.ErrInvalidKey
	}
	var ref account.KeyRef
	err := s.pool.QueryRow(ctx, `SELECT merchant_id, id FROM api_keys
		WHERE hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`,
		account.KeyDigest(key), s.Now()).Scan(&ref.MerchantID, &ref.KeyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.KeyRef{}, account.ErrInvalidKey
	}
	if err != nil {
		return account.KeyRef{}, fmt.Errorf("look up api key: %w", err)
	}
	return ref, nil
}

// Find implements account.Service.
func (s *Store) Find(ctx context.Context, merchantID string) (account.Merchant, error) {
	var m account.Merchant
	err := s.pool.QueryRow(ctx,
		`SELECT id, name, logo_url, accent_color, created_at FROM merchants WHERE id = $1`, merchantID).
		Scan(&m.ID, &m.Name, &m.LogoURL, &m.AccentColor, &m.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return account.Merchant{}, account.ErrNotFound
	}
	if err != nil {
		return account.Merchant{}, fmt.Errorf("find merchant %s: %w", merchantID, err)
	}
	return m, nil
}
