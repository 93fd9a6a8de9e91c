-- Remote jobs have attempts: one row is written before we ask Replicate to start a training or a
-- prediction, and its tag travels in what we send (the webhook URL's `attempt` parameter and the
-- input), so an answer we never got is settled by finding the attempt at Replicate, never by paying
-- for a second job.
CREATE TABLE replicate_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tag           TEXT NOT NULL UNIQUE CHECK (tag ~ '^[a-z0-9]{8,64}$'),
    kind          TEXT NOT NULL CHECK (kind IN ('training', 'prediction')),
    subject_id    BIGINT NOT NULL,                      -- models.id or generations.id
    state         TEXT NOT NULL DEFAULT 'starting'
                  CHECK (state IN ('starting', 'created', 'abandoned')),
    replicate_id  TEXT UNIQUE,                          -- once Replicate answered (or was found)
    input_ref     TEXT,                                 -- what in the input is unique to the attempt
    destination   TEXT,                                 -- a training's destination model "owner/name"
    lease_until   TIMESTAMPTZ,                          -- a worker holds a `starting` attempt until then
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One paid model or generation never has two remote jobs.
CREATE UNIQUE INDEX replicate_attempts_live_idx ON replicate_attempts (kind, subject_id)
    WHERE state IN ('starting', 'created');
CREATE INDEX replicate_attempts_starting_idx ON replicate_attempts (lease_until)
    WHERE state = 'starting';

-- The sweep rotates: each checked job goes to the back, and failed checks are counted per job.
ALTER TABLE models ADD COLUMN checked_at TIMESTAMPTZ,
                   ADD COLUMN failed_checks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE generations ADD COLUMN checked_at TIMESTAMPTZ,
                        ADD COLUMN failed_checks INTEGER NOT NULL DEFAULT 0;

-- Operational alarms told to the admins at most once per period (e.g. Replicate refusing our token).
CREATE TABLE ops_alarms (
    key         TEXT PRIMARY KEY,
    raised_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
