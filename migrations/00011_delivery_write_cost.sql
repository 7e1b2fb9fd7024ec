-- +goose NO TRANSACTION
-- +goose Up

-- Two indexes every delivered event paid for and no query needs (make
-- bench measured the write cost per delivery, README "Benchmarks"):
--
-- deliveries_merchant_created served a merchant's delivery list without a
-- status filter. The list now reads one branch per status from
-- deliveries_merchant_status, as the dashboard's list always has, so the
-- index only cost an entry on each delivery's insert and on each of its
-- (non-HOT) updates, at the left edge of a descending index, where pages
-- split in half: about 380 bytes of WAL per delivery.
--
-- events_seq_key made seq unique, which its identity already guarantees;
-- the live stream's head, its only reader, now reads the merchant's own
-- newest event from events_merchant_seq: about 70 bytes per event.
DROP INDEX CONCURRENTLY IF EXISTS deliveries_merchant_created;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_seq_key;

-- +goose Down
-- Built concurrently too, so going back never blocks payments either.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS events_seq_key ON events (seq);
ALTER TABLE events ADD CONSTRAINT events_seq_key UNIQUE USING INDEX events_seq_key;
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_merchant_created ON deliveries (merchant_id, created_at DESC, id DESC);
