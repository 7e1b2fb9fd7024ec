-- +goose Up

-- A charge is committed as 'processing' before the acquirer hears of it, so
-- no failure after the acquirer's answer can leave money Herald does not
-- know about; a job (and the customer's next attempt) reconciles it by its
-- id. A session has at most one attempt in flight: its row lock serialises
-- them.
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check
    CHECK (status IN ('processing', 'requires_authentication', 'succeeded', 'failed', 'canceled'));
CREATE UNIQUE INDEX charges_one_processing_per_session ON charges (session_id) WHERE status = 'processing';

-- The test acquirer's book: what the simulated card network did with each
-- charge id (its idempotency key). It stands for the network's own records,
-- so Herald writes it outside its payment transactions and never joins it to
-- its own tables.
CREATE TABLE acquirer_ledger (
    charge_id     text PRIMARY KEY,
    amount        bigint NOT NULL,
    currency      text NOT NULL,
    status        text NOT NULL CHECK (status IN ('requires_authentication', 'approved', 'declined', 'voided')),
    decline_code  text NOT NULL DEFAULT '',
    -- While waiting for 3-D Secure: the decline code once authenticated ('' approves).
    deferred_code text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
-- The old schema cannot say "processing", and such a charge may hold money:
-- refuse rather than forget it. Let the reconcile jobs run first.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM charges WHERE status = 'processing') THEN
        RAISE EXCEPTION 'charges are still processing: let them reconcile before migrating down';
    END IF;
END
$$;
-- +goose StatementEnd
DROP TABLE acquirer_ledger;
DROP INDEX charges_one_processing_per_session;
ALTER TABLE charges DROP CONSTRAINT charges_status_check;
ALTER TABLE charges ADD CONSTRAINT charges_status_check
    CHECK (status IN ('requires_authentication', 'succeeded', 'failed', 'canceled'));
