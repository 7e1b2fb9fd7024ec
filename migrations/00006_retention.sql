-- +goose NO TRANSACTION
-- +goose Up

-- The pruner walks old events in (created_at, id) order (HERALD_RETENTION).
-- Built concurrently: on a large events table a plain CREATE INDEX would
-- block payments, which write events, for the whole build.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_created_at ON events (created_at, id);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_created_at;
