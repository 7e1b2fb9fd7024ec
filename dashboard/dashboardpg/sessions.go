package dashboardpg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/dashboard"
)

// CreateSession implements dashboard.SessionStore.
func (s *Store) CreateSession(ctx context.Context, tokenDigest []byte, sess *dashboard.Session) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Expired sessions go at each sign-in: there are few, and no sweeper
		// is needed.
		if _, err := tx.Exec(ctx, `DELETE FROM dashboard_sessions WHERE least(idle_expires_at, expires_at) <= $1`,
			sess.Created); err != nil {
			return fmt.Errorf("delete expired sessions: %w", err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO dashboard_sessions (token_digest, id, operator, csrf_token, client_ip, user_agent,
			created_at, last_seen_at, idle_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			tokenDigest, sess.ID, sess.Operator, sess.CSRFToken, sess.ClientIP, sess.UserAgent,
			sess.Created, sess.LastSeen, sess.IdleExpires, sess.Expires)
		if err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return nil
	})
}

// FindSession implements dashboard.SessionStore.
func (s *Store) FindSession(ctx context.Context, tokenDigest []byte) (*dashboard.Session, error) {
	var sess dashboard.Session
	err := s.pool.QueryRow(ctx, `SELECT id, operator, csrf_token, client_ip, user_agent, created_at, last_seen_at,
		idle_expires_at, expires_at FROM dashboard_sessions WHERE token_digest = $1`, tokenDigest).Scan(
		&sess.ID, &sess.Operator, &sess.CSRFToken, &sess.ClientIP, &sess.UserAgent, &sess.Created, &sess.LastSeen,
		&sess.IdleExpires, &sess.Expires)
	if err != nil {
		return nil, notFound(err, "find session")
	}
	return &sess, nil
}

// TouchSession implements dashboard.SessionStore.
func (s *Store) TouchSession(ctx context.Context, sess *dashboard.Session) error {
	_, err := s.pool.Exec(ctx, `UPDATE dashboard_sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1`,
		sess.ID, sess.LastSeen, sess.IdleExpires)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession implements dashboard.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, sessionID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM dashboard_sessions WHERE id = $1`, sessionID); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
