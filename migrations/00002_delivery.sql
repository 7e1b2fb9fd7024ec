-- +goose Up

CREATE TABLE webhook_endpoints (
    id                          text PRIMARY KEY,
    merchant_id                 text NOT NULL REFERENCES merchants (id),
    url                         text NOT NULL,
    description                 text NOT NULL DEFAULT '',
    enabled_events              text[] NOT NULL,
    status                      text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason             text NOT NULL DEFAULT '',
    paused                      boolean NOT NULL DEFAULT false,
    -- Signing secrets sealed with AES-GCM under a key derived from
    -- HERALD_SECRET (internal/seal): Herald needs them back to sign.
    secret_sealed               text NOT NULL,
    previous_secret_sealed      text,
    previous_secret_expires_at  timestamptz,
    -- Health, maintained by the delivery worker.
    last_success_at             timestamptz,
    failing_since               timestamptz,
    breaker_state               text NOT NULL DEFAULT 'closed' CHECK (breaker_state IN ('closed', 'open', 'half_open')),
    breaker_changed_at          timestamptz,
    breaker_next_probe_at       timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    deleted_at                  timestamptz
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- One row per (event, endpoint): what must reach the merchant.
CREATE TABLE deliveries (
    id               text PRIMARY KEY,
    merchant_id      text NOT NULL REFERENCES merchants (id),
    event_id         text NOT NULL REFERENCES events (id),
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id),
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled')),
    -- Pending but parked: its endpoint is paused; resuming enqueues it again.
    held             boolean NOT NULL DEFAULT false,
    attempts         int NOT NULL DEFAULT 0,
    -- attempts at the last redrive: a redrive grants a fresh set of attempts.
    redrive_base     int NOT NULL DEFAULT 0,
    -- Bumped whenever a new job is enqueued for this delivery from outside
    -- its current job (redrive, resume). Jobs carry it and are unique per
    -- (delivery, job_seq), and a job whose seq is stale exits at once.
    job_seq          int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_attempt_at  timestamptz,
    last_status_code int,
    last_error_class text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX deliveries_merchant_created ON deliveries (merchant_id, created_at DESC, id DESC);
CREATE INDEX deliveries_merchant_status ON deliveries (merchant_id, status, created_at DESC, id DESC);
CREATE INDEX deliveries_endpoint_status ON deliveries (endpoint_id, status, created_at DESC, id DESC);

CREATE TABLE delivery_attempts (
    id               text PRIMARY KEY,
    delivery_id      text NOT NULL REFERENCES deliveries (id),
    number           int NOT NULL,
    trigger          text NOT NULL CHECK (trigger IN ('initial', 'retry', 'redrive')),
    started_at       timestamptz NOT NULL,
    duration_us      bigint NOT NULL,
    request_headers  jsonb NOT NULL,
    response_status  int,
    response_headers jsonb,
    -- The first 4 KiB of the answer, as bytes: endpoints may answer anything.
    response_body    bytea NOT NULL DEFAULT '',
    error_class      text NOT NULL DEFAULT '',
    error_message    text NOT NULL DEFAULT ''
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, started_at);

CREATE TABLE redrives (
    id           text PRIMARY KEY,
    merchant_id  text NOT NULL REFERENCES merchants (id),
    filter       jsonb NOT NULL,
    status       text NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'canceled')),
    matched      int NOT NULL,
    enqueued     int NOT NULL DEFAULT 0,
    -- The last delivery id handled, so a job that restarts carries on.
    cursor       text NOT NULL DEFAULT '',
    -- Deliveries created after the redrive are not part of it.
    cutoff       timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX redrives_merchant ON redrives (merchant_id, created_at DESC);

-- Event lists filter by type.
CREATE INDEX events_merchant_type_seq ON events (merchant_id, type, seq DESC);

-- +goose Down
DROP INDEX events_merchant_type_seq;
DROP TABLE redrives;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE webhook_endpoints;
