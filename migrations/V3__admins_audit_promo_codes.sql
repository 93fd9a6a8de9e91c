-- Admins managed in the database (the owners are ADMIN_IDS, in configuration), the audit log of
-- every admin action, and promo codes with their redemptions.

CREATE TABLE admins (
    user_id     BIGINT PRIMARY KEY REFERENCES users (id),
    added_by    BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE admin_actions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admin_id        BIGINT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN (
                        'tokens', 'block', 'unblock', 'style_add', 'style_change',
                        'promo_add', 'promo_change', 'admin_add', 'admin_remove')),
    target_user_id  BIGINT,
    subject         TEXT,                                 -- e.g. 'style:3', 'promo:SPRING'
    details         JSONB NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX admin_actions_target_idx ON admin_actions (target_user_id, id DESC);

CREATE TABLE promo_codes (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code              TEXT NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9_-]{3,32}$'),
    tokens            BIGINT CHECK (tokens > 0),                        -- a token code ...
    discount_percent  INTEGER CHECK (discount_percent BETWEEN 1 AND 99), -- ... or a discount code
    valid_from        TIMESTAMPTZ,
    valid_until       TIMESTAMPTZ,
    max_uses          INTEGER CHECK (max_uses > 0),                     -- overall; NULL: unlimited
    used_count        INTEGER NOT NULL DEFAULT 0,
    is_active         BOOLEAN NOT NULL DEFAULT true,
    created_by        BIGINT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((tokens IS NULL) <> (discount_percent IS NULL)),
    CHECK (max_uses IS NULL OR used_count <= max_uses),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);

-- Once per user and code; a discount is pending until a payment uses it.
CREATE TABLE promo_redemptions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    promo_id    BIGINT NOT NULL REFERENCES promo_codes (id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    payment_id  BIGINT REFERENCES payments (id),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (promo_id, user_id)
);
CREATE INDEX promo_redemptions_user_idx ON promo_redemptions (user_id, id DESC);

ALTER TABLE token_ledger DROP CONSTRAINT token_ledger_reason_check;
ALTER TABLE token_ledger ADD CONSTRAINT token_ledger_reason_check
    CHECK (reason IN ('purchase', 'referral_bonus', 'training', 'generation', 'refund', 'admin', 'promo'));
DROP INDEX token_ledger_once_idx;
CREATE UNIQUE INDEX token_ledger_once_idx ON token_ledger (reason, reference)
    WHERE reason IN ('purchase', 'referral_bonus', 'refund', 'promo');
