-- +goose Up

-- Server-wide settings that every Herald process must agree on, such as the
-- development secret generated on first start when HERALD_SECRET is unset.
CREATE TABLE herald_settings (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE merchants (
    id           text PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    logo_url     text NOT NULL DEFAULT '',
    accent_color text NOT NULL DEFAULT '#4f46e5' CHECK (accent_color ~ '^#[0-9a-f]{6}$'),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- API keys are stored as SHA-256 digests; the key itself is shown once.
CREATE TABLE api_keys (
    hash        bytea PRIMARY KEY,
    merchant_id text NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    hint        text NOT NULL, -- "sk_test_…abcd", for display
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_merchant_id ON api_keys (merchant_id);

CREATE TABLE idempotency_keys (
    merchant_id     text NOT NULL REFERENCES merchants (id) ON DELETE CASCADE,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    -- NULL while the first request is in flight.
    response_status int,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- An in-flight claim older than this is abandoned (its process died).
    locked_until    timestamptz,
    PRIMARY KEY (merchant_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

CREATE TABLE checkout_sessions (
    id                  text PRIMARY KEY,
    merchant_id         text NOT NULL REFERENCES merchants (id),
    status              text NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
    payment_status      text NOT NULL CHECK (payment_status IN ('unpaid', 'paid')),
    currency            text NOT NULL,
    amount_subtotal     bigint NOT NULL CHECK (amount_subtotal >= 0),
    amount_total        bigint NOT NULL CHECK (amount_total >= 0),
    line_items          jsonb NOT NULL,
    success_url         text NOT NULL,
    cancel_url          text NOT NULL,
    customer_email      text NOT NULL DEFAULT '',
    client_reference_id text NOT NULL DEFAULT '',
    metadata            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    completed_at        timestamptz,
    expired_at          timestamptz,
    -- The successful charge, set exactly when status becomes complete.
    charge_id           text,
    CHECK ((status = 'complete') = (charge_id IS NOT NULL))
);
CREATE INDEX checkout_sessions_merchant_created ON checkout_sessions (merchant_id, created_at DESC, id DESC);
CREATE INDEX checkout_sessions_open_expires ON checkout_sessions (expires_at) WHERE status = 'open';

-- The vault: what Herald keeps of a card. Never the number or the CVC.
CREATE TABLE card_tokens (
    id          text PRIMARY KEY,
    merchant_id text NOT NULL REFERENCES merchants (id),
    brand       text NOT NULL,
    last4       text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month   int NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year    int NOT NULL,
    -- HMAC-SHA256 of the card number under the server secret.
    fingerprint text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE card_blocklist (
    fingerprint text PRIMARY KEY,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per charge attempt (the charge object, ch_…), with the risk
-- decision taken before it.
CREATE TABLE charges (
    id                text PRIMARY KEY,
    merchant_id       text NOT NULL REFERENCES merchants (id),
    session_id        text NOT NULL REFERENCES checkout_sessions (id),
    token_id          text NOT NULL REFERENCES card_tokens (id),
    card_fingerprint  text NOT NULL,
    -- Copied from the token: the charge object shows the card as charged.
    brand             text NOT NULL,
    last4             text NOT NULL,
    exp_month         int NOT NULL,
    exp_year          int NOT NULL,
    client_ip         inet,
    amount            bigint NOT NULL,
    currency          text NOT NULL,
    status            text NOT NULL CHECK (status IN ('requires_authentication', 'succeeded', 'failed', 'canceled')),
    failure_code      text NOT NULL DEFAULT '',
    risk_level        text NOT NULL,
    risk_decision     text NOT NULL CHECK (risk_decision IN ('allow', 'challenge', 'block')),
    risk_reasons      text[] NOT NULL DEFAULT '{}',
    three_d_secure    text NOT NULL CHECK (three_d_secure IN ('not_required', 'required', 'authenticated', 'failed')),
    billing_name      text NOT NULL DEFAULT '',
    billing_email     text NOT NULL DEFAULT '',
    -- Sealed reference the acquirer needs to finish a 3-D Secure charge.
    authentication_ref text NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX charges_session ON charges (session_id, created_at);
CREATE INDEX charges_failed_fingerprint ON charges (card_fingerprint, created_at) WHERE status = 'failed';
CREATE INDEX charges_failed_ip ON charges (client_ip, created_at) WHERE status = 'failed';
CREATE UNIQUE INDEX charges_one_success_per_session ON charges (session_id) WHERE status = 'succeeded';
CREATE UNIQUE INDEX charges_one_pending_per_session ON charges (session_id) WHERE status = 'requires_authentication';

-- Every event, written in the transaction of the change it describes.
CREATE TABLE events (
    id          text PRIMARY KEY,
    -- Insertion order: events of one transaction share created_at.
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    merchant_id text NOT NULL REFERENCES merchants (id),
    type        text NOT NULL,
    created_at  timestamptz NOT NULL,
    -- The whole envelope, byte for byte as sent on the wire (json keeps the text).
    body        json NOT NULL
);
CREATE INDEX events_merchant_seq ON events (merchant_id, seq DESC);

-- +goose Down
DROP TABLE events;
DROP TABLE charges;
DROP TABLE card_blocklist;
DROP TABLE card_tokens;
DROP TABLE checkout_sessions;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
DROP TABLE merchants;
DROP TABLE herald_settings;
