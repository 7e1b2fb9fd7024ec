-- +goose NO TRANSACTION
-- +goose Up

-- events_merchant_created served a merchant's event list without a type
-- filter. The list now reads one branch per event type from
-- events_merchant_type_created (deliverypg.ListEvents), so the index only
-- cost an entry on every event's insert, at the left edge of a descending
-- index, where pages split in half (make bench, README "Benchmarks").
DROP INDEX CONCURRENTLY IF EXISTS events_merchant_created;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_merchant_created ON events (merchant_id, created_at DESC, seq DESC);
