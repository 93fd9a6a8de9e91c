-- A training's or a generation's status message in its owner's chat, edited as Replicate reports
-- progress. One row per job, made with the job; `edited_at` throttles the edits (one per job every
-- few seconds, decided by one conditional UPDATE so concurrent callbacks cannot both edit), and
-- `settled_at` is set in the transaction that finishes the job, after which nothing edits it again.
CREATE TABLE job_progress (
    kind         TEXT NOT NULL CHECK (kind IN ('training', 'generation')),
    subject_id   BIGINT NOT NULL,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id   BIGINT,
    percent      SMALLINT CHECK (percent BETWEEN 0 AND 100),
    step         INTEGER CHECK (step >= 0),
    total        INTEGER CHECK (total > 0),
    eta_seconds  INTEGER CHECK (eta_seconds >= 0),
    edits        INTEGER NOT NULL DEFAULT 0,
    edited_at    TIMESTAMPTZ,
    settled_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject_id)
);
CREATE INDEX job_progress_user_idx ON job_progress (user_id);

-- A Stars payment refunded by an admin (or reported refunded by Telegram): the tokens are taken back
-- and the payment waits in `refund_pending` until Telegram confirms; a refusal puts it back to
-- `paid` with the tokens returned.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('paid', 'refunded', 'disputed', 'refund_pending'));
ALTER TABLE payments ADD COLUMN refund_requested_by BIGINT;
ALTER TABLE payments ADD COLUMN refund_requested_at TIMESTAMPTZ;
ALTER TABLE payments ADD COLUMN refunded_at TIMESTAMPTZ;
ALTER TABLE payments ADD COLUMN refund_error TEXT;
-- The status a pending refund returns to when Telegram refuses it ('paid' or 'disputed').
ALTER TABLE payments ADD COLUMN refund_from TEXT CHECK (refund_from IN ('paid', 'disputed'));
-- Each request to refund counts: a refund Telegram refused may be asked for again, and its ledger rows
-- and effects are keyed by this number.
ALTER TABLE payments ADD COLUMN refund_attempts INTEGER NOT NULL DEFAULT 0;

-- The tokens a refunded payment takes back, and (Telegram refusing the refund) their return: each
-- once per refund attempt of a payment.
ALTER TABLE token_ledger DROP CONSTRAINT token_ledger_reason_check;
ALTER TABLE token_ledger ADD CONSTRAINT token_ledger_reason_check
    CHECK (reason IN ('purchase', 'referral_bonus', 'training', 'generation', 'refund', 'admin', 'promo',
                      'payment_refund', 'payment_refund_reversed'));
DROP INDEX token_ledger_once_idx;
CREATE UNIQUE INDEX token_ledger_once_idx ON token_ledger (reason, reference)
    WHERE reason IN ('purchase', 'referral_bonus', 'refund', 'promo', 'payment_refund',
                     'payment_refund_reversed');

-- A refund is an admin action, audited.
ALTER TABLE admin_actions DROP CONSTRAINT admin_actions_action_check;
ALTER TABLE admin_actions ADD CONSTRAINT admin_actions_action_check CHECK (action IN (
    'tokens', 'block', 'unblock', 'style_add', 'style_change', 'promo_add', 'promo_change',
    'admin_add', 'admin_remove', 'model_change', 'payment_refund'));
