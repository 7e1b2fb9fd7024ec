package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/seal"
)

// Key purposes: each use of the server keys derives its own (seal.Derive).
// The names are those Herald has always derived with, so that what was
// sealed or signed before keyrings still opens.
const (
	purposeWebhookSecrets = "webhook-secrets"
	purposeIdempotency    = "idempotency-responses"
	purposeSettings       = "settings"
	purposeFingerprint    = "card-fingerprint"
	purposeTestAcquirer   = "test-acquirer"
	purposePayCSRF        = "pay-csrf"
	purposeDashboard      = "dashboard"
)

// fingerprintSetting is the herald_settings row holding the card
// fingerprint key, sealed.
const fingerprintSetting = "fingerprint_key"

// serverKeyring is the keyring this process works with: the configured
// one, or in dev without one the development secret, generated once and
// kept in the database so every process shares it. In dev a development
// secret already stored stays in the ring as its oldest key, so that
// setting HERALD_SECRETS later loses nothing; production never trusts a
// key kept beside the data.
func serverKeyring(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*seal.Keyring, error) {
	if cfg.Secrets != nil {
		if cfg.Env != envDev {
			return cfg.Secrets, nil
		}
		stored, err := storedDevSecret(ctx, pool)
		if err != nil || stored == "" {
			return cfg.Secrets, err
		}
		return cfg.Secrets.With(seal.SingleKey(stored))
	}
	secret, err := devSecret(ctx, pool)
	if err != nil {
		return nil, err
	}
	return seal.NewKeyring(seal.SingleKey(secret))
}

// devSecret returns the development secret shared by every process on this
// database, generating it on first use.
func devSecret(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	_, err := pool.Exec(ctx, `INSERT INTO herald_settings (name, value) VALUES ('dev_secret', $1) ON CONFLICT (name) DO NOTHING`, id.Random(48))
	if err != nil {
		return "", fmt.Errorf("store dev secret (has `herald migrate` run?): %w", err)
	}
	secret, err := storedDevSecret(ctx, pool)
	if err == nil && secret == "" {
		err = errors.New("dev secret vanished")
	}
	return secret, err
}

// storedDevSecret returns the development secret, or "" when none was
// generated.
func storedDevSecret(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	secret, _, err := readSetting(ctx, pool, "dev_secret")
	if err != nil {
		return "", fmt.Errorf("read dev secret: %w", err)
	}
	return secret, nil
}

// readSetting returns the value of herald_settings' row name, and whether
// there is one.
func readSetting(ctx context.Context, pool *pgxpool.Pool, name string) (value string, found bool, err error) {
	err = pool.QueryRow(ctx, `SELECT value FROM herald_settings WHERE name = $1`, name).Scan(&value)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// fingerprintKey returns the key card fingerprints are computed under.
//
// Fingerprints are looked up by equality (the blocklist, the decline
// velocity of a card), and they cannot be computed again without the card
// numbers, which Herald never keeps: their key must never change, whatever
// the rotations of the keyring. So it is chosen once, at the first start
// with a keyring, as the derivation of the ring's oldest key (the key
// Herald used before keyrings existed, so existing fingerprints stay
// valid), and stored in herald_settings sealed under the keyring like any
// other secret at rest: a rotation re-seals it and never changes it.
func fingerprintKey(ctx context.Context, pool *pgxpool.Pool, ring *seal.Keyring) ([]byte, error) {
	box := ring.Box(purposeSettings)
	oldest := ring.Derive(purposeFingerprint)
	initial := base64.RawStdEncoding.EncodeToString(oldest[len(oldest)-1].Secret)
	_, err := pool.Exec(ctx, `INSERT INTO herald_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		fingerprintSetting, box.Seal(initial, settingContext(fingerprintSetting)))
	if err != nil {
		return nil, fmt.Errorf("store card fingerprint key (has `herald migrate` run?): %w", err)
	}
	sealed, found, err := readSetting(ctx, pool, fingerprintSetting)
	if err == nil && !found {
		err = errors.New("not stored") // it was inserted just above: only by hand
	}
	if err != nil {
		return nil, fmt.Errorf("read card fingerprint key: %w", err)
	}
	plain, err := box.Open(sealed, settingContext(fingerprintSetting))
	if errors.Is(err, seal.ErrUnknownKey) {
		return nil, fmt.Errorf("the card fingerprint key is sealed under key %q, which HERALD_SECRETS lacks: put that key back (and run herald secrets rotate before dropping it)",
			seal.SealedKeyID(sealed))
	}
	if err != nil {
		return nil, fmt.Errorf("open card fingerprint key: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(plain)
	if err != nil {
		return nil, fmt.Errorf("card fingerprint key: %w", err)
	}
	return key, nil
}

// settingContext binds a sealed setting to its row.
func settingContext(name string) string { return "herald_settings\x00" + name }

// resealSettings re-seals the sealed rows of herald_settings under the
// current key (herald secrets rotate).
func resealSettings(ctx context.Context, pool *pgxpool.Pool, box *seal.Box) (seal.Tally, error) {
	var t seal.Tally
	sealed, found, err := readSetting(ctx, pool, fingerprintSetting)
	if err != nil {
		return t, fmt.Errorf("read card fingerprint key: %w", err)
	}
	if !found || box.IsCurrent(sealed) {
		return t, nil
	}
	v, ok := t.Reseal(box, sealed, settingContext(fingerprintSetting))
	if !ok {
		return t, nil
	}
	tag, err := pool.Exec(ctx, `UPDATE herald_settings SET value = $2 WHERE name = $1 AND value = $3`, fingerprintSetting, v, sealed)
	if err != nil {
		return t, fmt.Errorf("re-seal card fingerprint key: %w", err)
	}
	t.Written(tag.RowsAffected() == 1)
	return t, nil
}

// newKey returns a fresh server key for HERALD_SECRETS: 32 random bytes
// under the given id, or under the id derived from them.
func newKey(kid string) (seal.Key, error) {
	secret := make([]byte, seal.MinKeyLen)
	_, _ = rand.Read(secret) // never fails on supported platforms
	if kid == "" {
		kid = seal.KeyID(secret)
	}
	if !seal.ValidKeyID(kid) {
		return seal.Key{}, fmt.Errorf("invalid key id %q: want 1 to 32 letters, digits, '-' or '_'", kid)
	}
	return seal.Key{ID: kid, Secret: secret}, nil
}
