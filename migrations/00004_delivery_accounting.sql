-- +goose Up

-- "Skipped, not dropped": an event that matches a disabled endpoint gets a
-- delivery in this status (no job, no attempt), which a redrive can send
-- once the endpoint is enabled again.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled', 'skipped'));

-- +goose Down
DELETE FROM deliveries WHERE status = 'skipped';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_status_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check
    CHECK (status IN ('pending', 'succeeded', 'failed', 'canceled'));
