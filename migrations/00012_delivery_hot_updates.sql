-- +goose NO TRANSACTION
-- +goose Up

-- A delivery's success is recorded without touching its indexes (a HOT
-- update), which saves about a kilobyte of WAL per delivered event and a
-- sixth of its statement time (make bench, README "Benchmarks").
--
-- Postgres updates a row in place of its index entries only when no indexed
-- column changes, partial indexes' predicates included. status was in three
-- indexes, so every delivery wrote ten index entries: five at its insert
-- and five again when it succeeded. Now the indexes hold:
--
-- * what never changes: the merchant, the endpoint and created_at, which
--   serve the lists without a status filter, the succeeded ones (nearly
--   every delivery), the overview's window and the pruner;
-- * rare_status, set by a trigger: the status of a delivery in one of the
--   rare states the lists filter on (failed, canceled, skipped, and pending
--   after an attempt, a hold, a redrive or a put-off), and NULL in the two
--   states of the hot path, waiting for its first attempt and succeeded. Its three
--   indexes are partial: a delivery on the hot path is never in them, and
--   going from one state of the hot path to the other changes no index.
--
-- A delivery waiting for its first attempt is found through its job instead:
-- it always has a live River job (both are inserted in one transaction).
-- When that job goes without an attempt recorded (deleted by hand, or
-- cancelled or discarded by River), the second trigger bumps the delivery's
-- job_seq: the delivery leaves the hot path, and the orphan sweeper finds it
-- in deliveries_rare_created and enqueues it again.
--
-- The column is filled by a trigger rather than generated: adding a stored
-- generated column rewrites the whole table under an exclusive lock. This
-- migration takes no lock that stops payments: the column is added empty,
-- only the rows in rare states are touched, and every index is built and
-- dropped concurrently.

ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS rare_status text;
-- Put off before its first attempt (breaker open, cap reached): set once by
-- the worker, so that an outage's backlog is found in the rare states'
-- index rather than through thousands of jobs.
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS deferred boolean NOT NULL DEFAULT false;
-- Room on each page for a row's next version, so that the update stays on
-- the page (a HOT update needs that too); for pages written from now on.
ALTER TABLE deliveries SET (fillfactor = 80);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION deliveries_set_rare_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rare_status := CASE
        WHEN NEW.status = 'succeeded' THEN NULL
        WHEN NEW.status = 'pending' AND NEW.attempts = 0 AND NOT NEW.held AND NEW.job_seq = 0 AND NOT NEW.deferred THEN NULL
        ELSE NEW.status END;
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE OR REPLACE TRIGGER deliveries_rare_status BEFORE INSERT OR UPDATE ON deliveries
    FOR EACH ROW EXECUTE FUNCTION deliveries_set_rare_status();
UPDATE deliveries SET status = status
    WHERE status <> 'succeeded' AND NOT (status = 'pending' AND attempts = 0 AND NOT held AND job_seq = 0);
-- A delivery waiting for its first attempt whose job is already gone (one
-- the orphan sweeper had yet to find) leaves the hot path now, as the
-- trigger below would have made it, so that the sweeper still finds it.
UPDATE deliveries d SET job_seq = job_seq + 1
    WHERE d.status = 'pending' AND d.rare_status IS NULL AND NOT EXISTS (SELECT 1 FROM river_job j
        WHERE j.kind = 'herald.deliver' AND j.args->>'delivery_id' = d.id AND coalesce((j.args->>'seq')::int, 0) = 0
            AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled'));

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION deliveries_job_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET job_seq = job_seq + 1
        WHERE id = OLD.args->>'delivery_id' AND status = 'pending' AND rare_status IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- The WHEN conditions are checked for each row without calling the
-- function: River's own fetches, completions and cleanups never call it.
CREATE OR REPLACE TRIGGER deliveries_job_deleted AFTER DELETE ON river_job FOR EACH ROW
    WHEN (OLD.kind = 'herald.deliver' AND OLD.state IN ('available', 'pending', 'retryable', 'running', 'scheduled'))
    EXECUTE FUNCTION deliveries_job_gone();
CREATE OR REPLACE TRIGGER deliveries_job_dropped AFTER UPDATE OF state ON river_job FOR EACH ROW
    WHEN (NEW.kind = 'herald.deliver' AND NEW.state IN ('cancelled', 'discarded') AND OLD.state <> NEW.state)
    EXECUTE FUNCTION deliveries_job_gone();

CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_merchant_created ON deliveries (merchant_id, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_endpoint_created ON deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_created ON deliveries (created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_merchant_rare ON deliveries (merchant_id, rare_status, created_at DESC, id DESC)
    WHERE rare_status IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_endpoint_rare ON deliveries (endpoint_id, rare_status, created_at DESC, id DESC)
    WHERE rare_status IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_rare_created ON deliveries (rare_status, created_at DESC, id DESC)
    WHERE rare_status IS NOT NULL;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_merchant_status;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_endpoint_status;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_status_created;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_merchant_status ON deliveries (merchant_id, status, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_endpoint_status ON deliveries (endpoint_id, status, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_status_created ON deliveries (status, created_at DESC, id DESC);
DROP INDEX CONCURRENTLY IF EXISTS deliveries_merchant_created;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_endpoint_created;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_created;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_merchant_rare;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_endpoint_rare;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_rare_created;
DROP TRIGGER IF EXISTS deliveries_job_deleted ON river_job;
DROP TRIGGER IF EXISTS deliveries_job_dropped ON river_job;
DROP FUNCTION IF EXISTS deliveries_job_gone();
DROP TRIGGER IF EXISTS deliveries_rare_status ON deliveries;
DROP FUNCTION IF EXISTS deliveries_set_rare_status();
ALTER TABLE deliveries RESET (fillfactor);
ALTER TABLE deliveries DROP COLUMN IF EXISTS rare_status;
ALTER TABLE deliveries DROP COLUMN IF EXISTS deferred;
