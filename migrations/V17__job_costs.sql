-- What each Replicate job cost us: the seconds it ran (Replicate's metrics.predict_time), the hardware
-- it ran on and that hardware's price per second when the job finished. One row per job (Replicate's
-- id), written once however often its result is delivered; kept like payments, for the accounts.
CREATE TABLE job_costs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    replicate_id    TEXT NOT NULL UNIQUE,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    kind            TEXT NOT NULL CHECK (kind IN ('training', 'generation')),
    model_id        BIGINT,                               -- the training's model, or the generation's
    generation_id   BIGINT,
    hardware        TEXT NOT NULL,
    seconds         DOUBLE PRECISION NOT NULL CHECK (seconds >= 0),
    usd_per_second  DOUBLE PRECISION NOT NULL CHECK (usd_per_second >= 0),
    cost_usd        DOUBLE PRECISION GENERATED ALWAYS AS (seconds * usd_per_second) STORED,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX job_costs_user_idx ON job_costs (user_id);
CREATE INDEX job_costs_recorded_idx ON job_costs (recorded_at);
