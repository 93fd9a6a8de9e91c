-- A payment that does not match its invoice (another currency or total, a discount already spent) is
-- recorded as disputed: nothing is credited and the admins settle it.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('paid', 'refunded', 'disputed'));
