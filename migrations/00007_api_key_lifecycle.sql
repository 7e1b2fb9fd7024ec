-- +goose Up

-- API keys get a public id (key_…) to be listed, rolled and revoked by,
-- and an expiry: a rolled key keeps working until expires_at. The id has
-- a default so that a Herald of the previous version, still running during
-- a rolling upgrade, can go on creating merchants.
ALTER TABLE api_keys
    ADD COLUMN id text NOT NULL DEFAULT 'key_' || replace(gen_random_uuid()::text, '-', ''),
    ADD COLUMN expires_at timestamptz;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_id_key UNIQUE (id);

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expires_at, DROP COLUMN id;
