-- Idempotency keys of the API's paid and state-changing POSTs (`Idempotency-Key`, docs/api.md): per
-- user, the first request's hash, and once it has finished its answer, replayed for 24 hours. A row
-- still `running` past `lease_until` is a request that died mid-way (it may have charged): its key is
-- never executed again. Rows older than 24 hours count as absent and are purged by the scheduled
-- housekeeping. dream_photo_app gets DML on this table through V10's default privileges.
CREATE TABLE idempotency_keys (
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          TEXT        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- sha256 of the method, the path and the body.
    request_hash BYTEA       NOT NULL CHECK (length(request_hash) = 32),
    state        TEXT        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
    -- The stored answer, once `done`.
    status       SMALLINT    CHECK (status BETWEEN 100 AND 599),
    content_type TEXT,
    body         BYTEA,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, key),
    CHECK ((state = 'done') = (status IS NOT NULL AND body IS NOT NULL))
);

-- The purge's range scan.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
