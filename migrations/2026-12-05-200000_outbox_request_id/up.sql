-- The request that wrote an outbox row, so that its delivery logs under the same id.
ALTER TABLE outbox ADD COLUMN request_id VARCHAR(64);
