-- The user journey, feedback on generations, the tagged style catalogue, and model extras.

CREATE TABLE user_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    event       TEXT NOT NULL CHECK (event IN (
                    'started', 'referral_joined', 'photos_uploaded', 'training_paid', 'training_started',
                    'training_finished', 'generation_requested', 'generation_delivered', 'payment',
                    'promo_used')),
    metadata    JSONB NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_events_event_idx ON user_events (event, created_at);
CREATE INDEX user_events_user_idx ON user_events (user_id, id DESC);

CREATE TABLE generation_feedback (
    generation_id  BIGINT PRIMARY KEY REFERENCES generations (id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    rating         SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment        TEXT CHECK (length(comment) <= 1000),
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX generation_feedback_rating_idx ON generation_feedback (rating, updated_at DESC);

ALTER TABLE styles
    ADD COLUMN trigger_word TEXT CHECK (trigger_word ~ '^[A-Za-z0-9_]{1,32}$'),
    ADD COLUMN preview_url  TEXT,
    ADD COLUMN gender       TEXT CHECK (gender IN ('male', 'female')),
    ADD COLUMN tags         TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX styles_tags_idx ON styles USING gin (tags);

ALTER TABLE models
    ADD COLUMN model_type       TEXT NOT NULL DEFAULT 'user' CHECK (model_type IN ('user', 'system')),
    ADD COLUMN preview_file_id  TEXT,          -- a Telegram file id (the first delivered photo, or set)
    ADD COLUMN preview_url      TEXT,
    ADD COLUMN training_seconds DOUBLE PRECISION;  -- Replicate's predict_time for the training
CREATE INDEX models_system_idx ON models (id) WHERE model_type = 'system';

-- Offering a model to everyone is an admin action too.
ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_action_check;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_action_check CHECK (action IN (
    'tokens', 'block', 'unblock', 'style_add', 'style_change', 'promo_add', 'promo_change',
    'admin_add', 'admin_remove', 'model_change'));
