-- +goose Up

-- A blocked attempt is not a decline. The velocity rules count declines
-- (status 'failed') but not the attempts the fraud rules themselves
-- blocked, or every retry while blocked would push the block further out.
-- The partial indexes the counts read follow the new predicate.
DROP INDEX charges_failed_fingerprint;
DROP INDEX charges_failed_ip;
CREATE INDEX charges_declined_fingerprint ON charges (card_fingerprint, created_at)
    WHERE status = 'failed' AND risk_decision <> 'block';
CREATE INDEX charges_declined_ip ON charges (client_ip, created_at)
    WHERE status = 'failed' AND risk_decision <> 'block';

-- An operator lifting a velocity block from the dashboard: the declines of
-- that session, card fingerprint or client IP made before cleared_at no
-- longer count. Rows are kept (they are few): the latest per scope and
-- value is the one that matters, and the audit log names the operator too.
CREATE TABLE fraud_clearances (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope      text NOT NULL CHECK (scope IN ('session', 'card', 'ip')),
    -- The session id, the card fingerprint, or host(client_ip).
    value      text NOT NULL,
    cleared_at timestamptz NOT NULL,
    operator   text NOT NULL
);
CREATE INDEX fraud_clearances_scope_value ON fraud_clearances (scope, value, cleared_at DESC);

-- The dashboard's payments list, newest first, across merchants or of one:
-- like its deliveries list, one ordered range per status, merged; and the
-- blocked attempts alone (few among many) from a partial index.
CREATE INDEX charges_status_created ON charges (status, created_at DESC, id DESC);
CREATE INDEX charges_merchant_status_created ON charges (merchant_id, status, created_at DESC, id DESC);
CREATE INDEX charges_blocked_created ON charges (created_at DESC, id DESC) WHERE risk_decision = 'block';

-- +goose Down
DROP INDEX charges_blocked_created;
DROP INDEX charges_merchant_status_created;
DROP INDEX charges_status_created;
DROP TABLE fraud_clearances;
DROP INDEX charges_declined_ip;
DROP INDEX charges_declined_fingerprint;
CREATE INDEX charges_failed_fingerprint ON charges (card_fingerprint, created_at) WHERE status = 'failed';
CREATE INDEX charges_failed_ip ON charges (client_ip, created_at) WHERE status = 'failed';
