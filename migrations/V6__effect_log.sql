-- The effect log (a transactional outbox): every outside effect a state change causes (a message to a
-- user, a notice to the admins, a generation's album) is written in the same transaction as the change,
-- then executed after commit by a dispatcher (inline at once, and by the sweep for whatever is left).
-- `dedupe_key` names the effect's cause, so one cause has its effect once however often it is reported.
CREATE TABLE effects (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key       TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    payload          JSONB NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts         INT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- While `running`: until when the executor that took it owns it (a dead one's lease runs out).
    lease_until      TIMESTAMPTZ,
    last_error       TEXT,
    -- What the remote answered (e.g. the Telegram message ids), so a sent effect is known as sent.
    result           JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at      TIMESTAMPTZ
);
CREATE INDEX effects_due_idx ON effects (next_attempt_at) WHERE state IN ('pending', 'running');
CREATE INDEX effects_finished_idx ON effects (finished_at) WHERE state IN ('done', 'failed');

-- Dedupe rows are pruned once past the senders' retry windows.
CREATE INDEX processed_updates_done_idx ON processed_updates (done_at) WHERE status = 'done';
CREATE INDEX webhook_deliveries_done_idx ON webhook_deliveries (done_at) WHERE status = 'done';
-- An invoice that did not say how many tokens it sold, for a pack gone since: recorded, 0 credited.
ALTER TABLE payments DROP CONSTRAINT payments_tokens_check;
ALTER TABLE payments ADD CONSTRAINT payments_tokens_check CHECK (tokens >= 0);
