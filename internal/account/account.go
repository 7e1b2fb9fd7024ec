// Package account manages merchants and their secret API keys.
//
// Keys are random (sk_test_ + 32 base62 characters, ~190 bits) and stored
// only as SHA-256 digests: a key that is high-entropy needs no slow hash,
// and a leaked database yields no usable key.
package account

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/validation"
)

// KeyPrefix starts every secret key. Herald only has a test mode: its
// acquirer is a simulated card network.
const KeyPrefix = "sk_test_"

// DefaultAccentColor is used when a merchant sets none.
const DefaultAccentColor = "#4f46e5"

// ErrInvalidKey is returned by Authenticate for unknown, malformed or revoked
// keys. Callers must not tell these cases apart to the client.
var ErrInvalidKey = errors.New("invalid API key")

// Merchant is an account that creates checkout sessions and receives
// webhooks.
type Merchant struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	LogoURL     string    `json:"logo_url"`
	AccentColor string    `json:"accent_color"`
	Created     time.Time `json:"-"`
}

var accentRE = regexp.MustCompile(`^#[0-9a-f]{6}$`)

// Validate normalises m in place and reports the first invalid field.
func (m *Merchant) Validate() error {
	m.Name = strings.TrimSpace(m.Name)
	if m.Name == "" || utf8.RuneCountInString(m.Name) > 100 {
		return errors.New("name must be 1 to 100 characters")
	}
	if validation.HasControl(m.Name) || validation.HasControl(m.LogoURL) {
		return errors.New("name and logo URL must not contain control characters")
	}
	if m.LogoURL != "" {
		u, err := url.Parse(m.LogoURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("logo URL must be an absolute http(s) URL")
		}
	}
	m.AccentColor = strings.ToLower(strings.TrimSpace(m.AccentColor))
	if m.AccentColor == "" {
		m.AccentColor = DefaultAccentColor
	}
	if !accentRE.MatchString(m.AccentColor) {
		return errors.New("accent colour must look like #1a2b3c")
	}
	return nil
}

// Store reads and writes merchants and keys in Postgres.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Create validates m, inserts it with a new id and returns it with a new
// secret key. The key is not stored and cannot be shown again.
func (s *Store) Create(ctx context.Context, m Merchant) (Merchant, string, error) {
	if err := m.Validate(); err != nil {
		return Merchant{}, "", err
	}
	m.ID = id.New("acct")
	key := KeyPrefix + id.Random(32)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx,
			`INSERT INTO merchants (id, name, logo_url, accent_color) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			m.ID, m.Name, m.LogoURL, m.AccentColor).Scan(&m.Created)
		if err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		digest := sha256.Sum256([]byte(key))
		_, err = tx.Exec(ctx, `INSERT INTO api_keys (hash, merchant_id, hint) VALUES ($1, $2, $3)`,
			digest[:], m.ID, KeyPrefix+"…"+key[len(key)-4:])
		if err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return nil
	})
	if err != nil {
		return Merchant{}, "", err
	}
	return m, key, nil
}

// Authenticate returns the id of the merchant owning key, or ErrInvalidKey.
//
// The lookup is by digest, so timing reveals nothing about a stored key:
// an attacker would have to find SHA-256 preimages.
func (s *Store) Authenticate(ctx context.Context, key string) (string, error) {
	if !strings.HasPrefix(key, KeyPrefix) || len(key) > 200 {
		return "", ErrInvalidKey
	}
	digest := sha256.Sum256([]byte(key))
	var merchantID string
	err := s.pool.QueryRow(ctx,
		`SELECT merchant_id FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, digest[:]).Scan(&merchantID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrInvalidKey
	}
	if err != nil {
		return "", fmt.Errorf("look up api key: %w", err)
	}
	return merchantID, nil
}

// Find returns the merchant with id, or pgx.ErrNoRows wrapped.
func (s *Store) Find(ctx context.Context, merchantID string) (Merchant, error) {
	var m Merchant
	err := s.pool.QueryRow(ctx,
		`SELECT id, name, logo_url, accent_color, created_at FROM merchants WHERE id = $1`, merchantID).
		Scan(&m.ID, &m.Name, &m.LogoURL, &m.AccentColor, &m.Created)
	if err != nil {
		return Merchant{}, fmt.Errorf("find merchant %s: %w", merchantID, err)
	}
	return m, nil
}
