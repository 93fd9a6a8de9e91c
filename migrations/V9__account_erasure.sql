-- "Delete my data" for a whole account: the user row stays (payments, the ledger, referrals point
-- at it) with its names cleared, and this mark says when its data was erased.
ALTER TABLE users ADD COLUMN erased_at TIMESTAMPTZ;
