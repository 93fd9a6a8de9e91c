-- A payment that does not match its invoice (another currency or total, a discount already spent) is
-- recorded as disputed: nothing is credited and the admins settle it.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('paid', 'refunded', 'disputed'));

-- A model is offered to everyone only with its owner's consent, which they can withdraw.
ALTER TABLE models ADD COLUMN shared_consent_at TIMESTAMPTZ;
