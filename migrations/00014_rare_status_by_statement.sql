-- +goose Up

-- A delivery's rare_status (migration 00012) is written by the statements
-- that update a delivery, no longer by a BEFORE UPDATE trigger.
--
-- On PostgreSQL 15 a BEFORE UPDATE row trigger locks the row before the
-- update (the executor fetches the old row for the trigger that way), and
-- the lock is a WAL record of its own: 54 bytes on every delivery's
-- success, besides a PL/pgSQL call (make bench, README "Benchmarks"). The
-- statements now set rare_status with delivery_rare_status(), given the new
-- values of the columns it is computed from.
--
-- An AFTER UPDATE trigger is the safety net, for a statement that does not
-- set it: a process of the previous version during a rolling upgrade, or an
-- operator's hand-written SQL. Its WHEN condition is checked as the row is
-- updated, without a lock or a function call, so a statement that sets
-- rare_status right never calls it; one that does not is followed by a
-- second update that repairs it, and a NOTICE says so (the tests fail on
-- that NOTICE: internal/pgtest).
--
-- Inserts keep their BEFORE INSERT trigger, which takes no lock.

CREATE OR REPLACE FUNCTION delivery_rare_status(status text, attempts integer, held boolean, job_seq integer,
    deferred boolean) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'succeeded' THEN NULL
        WHEN status = 'pending' AND attempts = 0 AND NOT held AND job_seq = 0 AND NOT deferred THEN NULL
        ELSE status END
$$;

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION deliveries_set_rare_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rare_status := delivery_rare_status(NEW.status, NEW.attempts, NEW.held, NEW.job_seq, NEW.deferred);
    RETURN NEW;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION deliveries_repair_rare_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE NOTICE 'herald: rare_status of delivery % repaired after an update that did not set it', NEW.id;
    UPDATE deliveries SET rare_status = delivery_rare_status(status, attempts, held, job_seq, deferred)
        WHERE id = NEW.id;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE OR REPLACE TRIGGER deliveries_rare_status_repair AFTER UPDATE ON deliveries FOR EACH ROW
    WHEN (NEW.rare_status IS DISTINCT FROM
        delivery_rare_status(NEW.status, NEW.attempts, NEW.held, NEW.job_seq, NEW.deferred))
    EXECUTE FUNCTION deliveries_repair_rare_status();
CREATE OR REPLACE TRIGGER deliveries_rare_status BEFORE INSERT ON deliveries
    FOR EACH ROW EXECUTE FUNCTION deliveries_set_rare_status();

-- A delivery waiting for its first attempt leaves the hot path when its job
-- goes without an attempt (00012); the update says so itself now.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION deliveries_job_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET job_seq = job_seq + 1,
            rare_status = delivery_rare_status(status, attempts, held, job_seq + 1, deferred)
        WHERE id = OLD.args->>'delivery_id' AND status = 'pending' AND rare_status IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION deliveries_job_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deliveries SET job_seq = job_seq + 1
        WHERE id = OLD.args->>'delivery_id' AND status = 'pending' AND rare_status IS NULL;
    RETURN NULL;
END $$;
-- +goose StatementEnd
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
DROP TRIGGER IF EXISTS deliveries_rare_status_repair ON deliveries;
DROP FUNCTION IF EXISTS deliveries_repair_rare_status();
DROP FUNCTION IF EXISTS delivery_rare_status(text, integer, boolean, integer, boolean);
