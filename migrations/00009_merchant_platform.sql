-- +goose NO TRANSACTION
-- +goose Up

-- Event lists are ordered by (created, seq), newest first, so that a
-- reconciliation window (created[gte], created[lt]) with or without a type
-- is one index range in list order, wherever in the past it lies. The
-- (merchant, type, seq) index gives way to its created twin; the
-- (merchant, seq) one stays for the event stream, which follows seq.
-- Built concurrently, like 00006's: a plain CREATE INDEX on a large events
-- table would block payments, which write events, for the whole build.
-- Outside a transaction each statement stands alone, so each can be rerun.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_merchant_created ON events (merchant_id, created_at DESC, seq DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_merchant_type_created ON events (merchant_id, type, created_at DESC, seq DESC);
DROP INDEX CONCURRENTLY IF EXISTS events_merchant_type_seq;

-- Portal links: a merchant's staff see and act on the merchant's webhook
-- setup for an hour. The link carries a random token; only its SHA-256
-- digest is kept, so a copy of this table opens no portal.
CREATE TABLE IF NOT EXISTS portal_sessions (
    token_digest bytea PRIMARY KEY,
    -- Public id (ps_…), for logs.
    id           text NOT NULL UNIQUE,
    merchant_id  text NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    -- Every portal form carries it; another site cannot read it.
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_sessions_expires ON portal_sessions (expires_at);

-- +goose Down
DROP TABLE IF EXISTS portal_sessions;
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_merchant_type_seq ON events (merchant_id, type, seq DESC);
DROP INDEX CONCURRENTLY IF EXISTS events_merchant_type_created;
DROP INDEX CONCURRENTLY IF EXISTS events_merchant_created;
