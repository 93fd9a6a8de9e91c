-- Per-user rate limits of costly REST API actions (generation, training), shared by every Lambda:
-- one row per user and action, counting requests in a fixed window that starts at a multiple of
-- the window's length.

CREATE TABLE rate_limits (
    user_id       BIGINT NOT NULL,
    action        TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 32),
    window_start  TIMESTAMPTZ NOT NULL,
    count         INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (user_id, action)
);
