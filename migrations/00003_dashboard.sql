-- +goose Up

-- Signed-in operators of the dashboard. The cookie carries a random token;
-- only its SHA-256 digest is kept, so a copy of this table signs nobody in.
CREATE TABLE dashboard_sessions (
    token_digest    bytea PRIMARY KEY,
    -- Public id (dss_…), shown in the audit log instead of the token.
    id              text NOT NULL UNIQUE,
    -- The name the operator gave at sign-in (the password is shared).
    operator        text NOT NULL,
    -- Every dashboard form carries it; a cross-site page cannot read it.
    csrf_token      text NOT NULL,
    client_ip       text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    -- The session ends at whichever comes first: idle or absolute expiry.
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (least(idle_expires_at, expires_at));

-- Every operator action, written before the action runs and completed with
-- its outcome, so nothing is done from the dashboard without a trace.
CREATE TABLE dashboard_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    operator    text NOT NULL,
    session_id  text NOT NULL DEFAULT '',
    client_ip   text NOT NULL DEFAULT '',
    user_agent  text NOT NULL DEFAULT '',
    action      text NOT NULL,
    -- No foreign keys: the log outlives what it mentions.
    merchant_id text NOT NULL DEFAULT '',
    target      text NOT NULL DEFAULT '',
    -- The parameters of the action, e.g. a bulk redrive's filter.
    detail      jsonb NOT NULL DEFAULT '{}',
    outcome     text NOT NULL CHECK (outcome IN ('pending', 'succeeded', 'failed')),
    result      text NOT NULL DEFAULT ''
);

-- The dashboard reads across merchants. Every index on deliveries and
-- attempts costs each delivery, so it adds one to each table and shapes its
-- queries to use them and the existing ones with bounded scans: a list
-- without a status filter reads one ordered branch per status and merges.
CREATE INDEX deliveries_status_created ON deliveries (status, created_at DESC, id DESC);
-- Attempts, success rate and first-attempt lag per window, from the index.
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at)
    INCLUDE (delivery_id, number, response_status, error_class);

CREATE INDEX webhook_endpoints_created ON webhook_endpoints (created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX webhook_endpoints_breaker ON webhook_endpoints (breaker_changed_at DESC)
    WHERE deleted_at IS NULL AND breaker_state <> 'closed';
CREATE INDEX webhook_endpoints_disabled ON webhook_endpoints (updated_at DESC)
    WHERE deleted_at IS NULL AND status = 'disabled';

CREATE INDEX redrives_created ON redrives (created_at DESC, id DESC);

-- +goose Down
DROP INDEX redrives_created;
DROP INDEX webhook_endpoints_disabled;
DROP INDEX webhook_endpoints_breaker;
DROP INDEX webhook_endpoints_created;
DROP INDEX delivery_attempts_started;
DROP INDEX deliveries_status_created;
DROP TABLE dashboard_audit;
DROP TABLE dashboard_sessions;
