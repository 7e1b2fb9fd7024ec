// Package portalpg keeps portal sessions in Postgres.
package portalpg

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/portal"
)

// Store implements portal.SessionStore. Tokens are kept as SHA-256
// digests: a copy of the table opens no portal.
type Store struct {
	pool *pgxpool.Pool
}

var _ portal.SessionStore = (*Store)(nil)

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// tokenPrefix marks portal tokens, so that one pasted in the wrong place
// is recognisable.
const tokenPrefix = "pt_"

func digest(token string) []byte {
	d := sha256.Sum256([]byte(token))
	return d[:]
}

// Create implements portal.SessionStore.
func (s *Store) Create(ctx context.Context, merchantID string, now, expiresAt time.Time) (*portal.Session, string, error) {
	token := tokenPrefix + id.Random(43)
	ps := &portal.Session{ID: id.New("ps"), MerchantID: merchantID, CSRFToken: id.Random(43), Created: now, ExpiresAt: expiresAt}
	_, err := s.pool.Exec(ctx, `INSERT INTO portal_sessions (token_digest, id, merchant_id, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, digest(token), ps.ID, ps.MerchantID, ps.CSRFToken, ps.Created, ps.ExpiresAt)
	if err != nil {
		return nil, "", fmt.Errorf("insert portal session: %w", err)
	}
	// Links that expired a day ago are of no use, not even to say so:
	// each new link clears a few, so the table stays small without a job.
	_, err = s.pool.Exec(ctx, `DELETE FROM portal_sessions WHERE token_digest IN (
		SELECT token_digest FROM portal_sessions WHERE expires_at < $1 LIMIT 100)`, now.Add(-24*time.Hour))
	if err != nil {
		return nil, "", fmt.Errorf("prune portal sessions: %w", err)
	}
	return ps, token, nil
}

// Find implements portal.SessionStore.
func (s *Store) Find(ctx context.Context, token string) (*portal.Session, error) {
	var ps portal.Session
	err := s.pool.QueryRow(ctx, `SELECT id, merchant_id, csrf_token, created_at, expires_at FROM portal_sessions
		WHERE token_digest = $1`, digest(token)).Scan(&ps.ID, &ps.MerchantID, &ps.CSRFToken, &ps.Created, &ps.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, portal.ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("find portal session: %w", err)
	}
	return &ps, nil
}
