-- +goose NO TRANSACTION
-- +goose Up

-- The pruner's walk over old events moves to an index on an expression
-- only its query uses, (created_at AT TIME ZONE 'UTC', id). A plain
-- (created_at, id) index was also a candidate for a merchant's event list
-- with a time window, and with pgx's generic plans Postgres sometimes chose
-- it, reading every merchant's events in the window and keeping one
-- merchant's. Concurrently, as 00006 built the old one, so payments, which
-- write events, are never blocked.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_retention ON events ((created_at AT TIME ZONE 'UTC'), id);
DROP INDEX CONCURRENTLY IF EXISTS events_created_at;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_created_at ON events (created_at, id);
DROP INDEX CONCURRENTLY IF EXISTS events_retention;
