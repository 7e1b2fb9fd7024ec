-- +goose NO TRANSACTION
-- +goose Up

-- Every index here is built concurrently: charges are written by every
-- payment attempt, and a plain CREATE INDEX on a large table would block
-- payments for the whole build. Without a transaction a failed run leaves
-- what it got done, so each statement may run again (IF [NOT] EXISTS).

-- A blocked attempt is not a decline. The velocity rules count declines
-- (status 'failed') but not the attempts the fraud rules themselves
-- blocked, or every retry while blocked would push the block further out.
-- The partial indexes the counts read follow the new predicate; the old
-- ones are dropped only once the new ones exist.
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_declined_fingerprint ON charges (card_fingerprint, created_at)
    WHERE status = 'failed' AND risk_decision <> 'block';
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_declined_ip ON charges (client_ip, created_at)
    WHERE status = 'failed' AND risk_decision <> 'block';
DROP INDEX CONCURRENTLY IF EXISTS charges_failed_fingerprint;
DROP INDEX CONCURRENTLY IF EXISTS charges_failed_ip;

-- An operator lifting a velocity block from the dashboard: the declines of
-- that session, card fingerprint or client IP made before cleared_at no
-- longer count. Rows are kept (they are few): the latest per scope and
-- value is the one that matters, and the audit log names the operator too.
CREATE TABLE IF NOT EXISTS fraud_clearances (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope      text NOT NULL CHECK (scope IN ('session', 'card', 'ip')),
    -- The session id, the card fingerprint, or host(client_ip).
    value      text NOT NULL,
    cleared_at timestamptz NOT NULL,
    operator   text NOT NULL
);
CREATE INDEX IF NOT EXISTS fraud_clearances_scope_value ON fraud_clearances (scope, value, cleared_at DESC);

-- The dashboard's payments list, newest first, across merchants or of one:
-- like its deliveries list, one ordered range per status, merged; and the
-- blocked attempts alone (few among many) from a partial index.
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_status_created ON charges (status, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_merchant_status_created ON charges (merchant_id, status, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_blocked_created ON charges (created_at DESC, id DESC) WHERE risk_decision = 'block';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS charges_blocked_created;
DROP INDEX CONCURRENTLY IF EXISTS charges_merchant_status_created;
DROP INDEX CONCURRENTLY IF EXISTS charges_status_created;
DROP TABLE IF EXISTS fraud_clearances;
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_failed_fingerprint ON charges (card_fingerprint, created_at) WHERE status = 'failed';
CREATE INDEX CONCURRENTLY IF NOT EXISTS charges_failed_ip ON charges (client_ip, created_at) WHERE status = 'failed';
DROP INDEX CONCURRENTLY IF EXISTS charges_declined_ip;
DROP INDEX CONCURRENTLY IF EXISTS charges_declined_fingerprint;
