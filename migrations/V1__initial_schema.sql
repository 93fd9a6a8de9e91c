-- Dream Photo: the initial schema (the original system's tables, completed).
-- Token amounts are BIGINT, money is BIGINT in minor units (kopecks, stars), time is timestamptz.

CREATE TABLE users (
    id                BIGINT PRIMARY KEY,                 -- Telegram user id (up to 52 bits)
    username          TEXT,
    first_name        TEXT NOT NULL DEFAULT '',
    last_name         TEXT,
    language_code     TEXT,
    activated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    tokens_left       BIGINT NOT NULL DEFAULT 0 CHECK (tokens_left >= 0),
    tokens_spent      BIGINT NOT NULL DEFAULT 0 CHECK (tokens_spent >= 0),
    is_blocked        BOOLEAN NOT NULL DEFAULT false,     -- blocked by an admin
    bot_blocked_at    TIMESTAMPTZ,                        -- the user blocked the bot (Bot API 403)
    referral_code     TEXT NOT NULL UNIQUE CHECK (referral_code ~ '^[A-Za-z0-9_-]{1,64}$'),
    referred_by       BIGINT REFERENCES users (id),
    dialog            JSONB NOT NULL DEFAULT '{"state": "idle"}',  -- the bot conversation state
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (referred_by IS NULL OR referred_by <> id)
);
CREATE INDEX users_username_idx ON users (lower(username));
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE models (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                BIGINT NOT NULL REFERENCES users (id),
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    trigger_word           TEXT NOT NULL CHECK (trigger_word ~ '^[A-Za-z0-9_]{2,32}$'),
    status                 TEXT NOT NULL DEFAULT 'draft'
                           CHECK (status IN ('draft', 'queued', 'training', 'ready', 'failed', 'canceled')),
    cost_tokens            BIGINT NOT NULL DEFAULT 0 CHECK (cost_tokens >= 0),
    replicate_training_id  TEXT UNIQUE,
    replicate_model        TEXT,                         -- destination "owner/name"
    version                TEXT,                         -- "owner/name:<version id>" once trained
    weights_url            TEXT,
    error                  TEXT,
    status_message_id      BIGINT,                       -- Telegram message we edit while photos arrive
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    queued_at              TIMESTAMPTZ,
    training_started_at    TIMESTAMPTZ,
    finished_at            TIMESTAMPTZ
);
CREATE INDEX models_user_idx ON models (user_id, id DESC);
CREATE INDEX models_status_idx ON models (status, updated_at);

CREATE TABLE training_photos (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id         BIGINT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    file_unique_id   TEXT NOT NULL,                       -- Telegram's stable id, or a digest for uploads
    telegram_file_id TEXT,                                -- to download through getFile
    source_url       TEXT,                                -- or a stored URL (Replicate files API, API uploads)
    file_size        BIGINT,
    mime_type        TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (model_id, file_unique_id),
    CHECK (telegram_file_id IS NOT NULL OR source_url IS NOT NULL)
);

CREATE TABLE styles (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    description     TEXT NOT NULL DEFAULT '',
    prompt_template TEXT NOT NULL DEFAULT '{prompt}',     -- {prompt} is replaced by the user's prompt
    lora_url        TEXT,                                 -- an extra LoRA applied on top of the user's
    lora_scale      DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    is_active       BOOLEAN NOT NULL DEFAULT true,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE generations (
    id                       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id                  BIGINT NOT NULL REFERENCES users (id),
    model_id                 BIGINT REFERENCES models (id) ON DELETE SET NULL,
    style_id                 BIGINT REFERENCES styles (id),
    prompt                   TEXT NOT NULL,                -- what the user wrote
    full_prompt              TEXT NOT NULL,                -- what Replicate got (trigger word, style)
    num_images               INTEGER NOT NULL CHECK (num_images BETWEEN 1 AND 4),
    status                   TEXT NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'starting', 'processing', 'succeeded', 'failed', 'canceled')),
    replicate_prediction_id  TEXT UNIQUE,
    result_urls              TEXT[] NOT NULL DEFAULT '{}',
    telegram_file_ids        TEXT[] NOT NULL DEFAULT '{}',
    cost_tokens              BIGINT NOT NULL CHECK (cost_tokens >= 0),
    error                    TEXT,
    created_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at               TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at              TIMESTAMPTZ
);
CREATE INDEX generations_user_idx ON generations (user_id, id DESC);
CREATE INDEX generations_status_idx ON generations (status, updated_at);
CREATE INDEX generations_created_idx ON generations (created_at);

CREATE TABLE payments (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id),
    pack_id             TEXT NOT NULL,
    amount              BIGINT NOT NULL CHECK (amount > 0),  -- minor units of `currency`
    currency            TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    tokens              BIGINT NOT NULL CHECK (tokens > 0),
    telegram_charge_id  TEXT NOT NULL UNIQUE,                -- the idempotency key of a delivery
    provider_charge_id  TEXT NOT NULL DEFAULT '',
    payload             TEXT NOT NULL,
    status              TEXT NOT NULL DEFAULT 'paid' CHECK (status IN ('paid', 'refunded')),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_user_idx ON payments (user_id, id DESC);
CREATE INDEX payments_created_idx ON payments (created_at);

CREATE TABLE referral_invites (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    referrer_id     BIGINT NOT NULL REFERENCES users (id),
    referred_id     BIGINT NOT NULL UNIQUE REFERENCES users (id),
    bonus_tokens    BIGINT NOT NULL DEFAULT 0,
    bonus_paid_at   TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (referrer_id <> referred_id)
);
CREATE INDEX referral_invites_referrer_idx ON referral_invites (referrer_id);

-- Every balance change, append-only: users.tokens_left always equals the sum of a user's deltas.
CREATE TABLE token_ledger (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        BIGINT NOT NULL REFERENCES users (id),
    delta          BIGINT NOT NULL CHECK (delta <> 0),
    balance_after  BIGINT NOT NULL CHECK (balance_after >= 0),
    reason         TEXT NOT NULL
                   CHECK (reason IN ('purchase', 'referral_bonus', 'training', 'generation', 'refund', 'admin')),
    reference      TEXT NOT NULL,                         -- what it is for: 'model:12', 'payment:<charge id>'
    note           TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX token_ledger_user_idx ON token_ledger (user_id, id DESC);
-- A refund, a purchase credit or a referral bonus happens at most once per thing it is for.
CREATE UNIQUE INDEX token_ledger_once_idx ON token_ledger (reason, reference)
    WHERE reason IN ('purchase', 'referral_bonus', 'refund');

CREATE FUNCTION token_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'token_ledger is append-only';
END $$;
CREATE TRIGGER token_ledger_append_only BEFORE UPDATE OR DELETE ON token_ledger
    FOR EACH ROW EXECUTE FUNCTION token_ledger_append_only();

-- Telegram update dedupe: a row is claimed while an update is handled and kept once it is done.
CREATE TABLE processed_updates (
    update_id    BIGINT PRIMARY KEY,
    status       TEXT NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'done')),
    claimed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at      TIMESTAMPTZ
);

-- Replicate webhook dedupe, by the Standard Webhooks `webhook-id`.
CREATE TABLE webhook_deliveries (
    webhook_id   TEXT PRIMARY KEY,
    status       TEXT NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'done')),
    subject      TEXT,                                    -- 'training:<id>' or 'prediction:<id>'
    claimed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at      TIMESTAMPTZ
);
