-- A second try after an album: "more like this" (the same prompt and style, a new seed) in a shape
-- the person picks, and one free redo (FREE_REDOS_PER_GENERATION) after a rating of 1 or 2.

-- The shape Replicate was asked for (rules::AspectRatio); what every generation so far had.
ALTER TABLE generations ADD COLUMN aspect_ratio TEXT NOT NULL DEFAULT '1:1'
    CHECK (aspect_ratio IN ('1:1', '3:4', '9:16'));
-- The generation this one repeats ("more like this" or a free redo of it).
ALTER TABLE generations ADD COLUMN again_of BIGINT REFERENCES generations (id) ON DELETE SET NULL;
-- Paid for by a free_redo credit: a failure of it refunds nothing (its debit was never the user's),
-- and it earns no free redo of its own.
ALTER TABLE generations ADD COLUMN free_redo BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE generations ADD CONSTRAINT generations_free_redo_repeats CHECK (NOT free_redo OR again_of IS NOT NULL);
CREATE INDEX generations_again_of_idx ON generations (again_of) WHERE again_of IS NOT NULL;

-- The free redo's credit: once per slot (`free-redo:<generation>:<n>`), in the transaction that
-- writes the redo and debits its price, so credit and debit net to zero.
ALTER TABLE token_ledger DROP CONSTRAINT token_ledger_reason_check;
ALTER TABLE token_ledger ADD CONSTRAINT token_ledger_reason_check
    CHECK (reason IN ('purchase', 'referral_bonus', 'training', 'generation', 'refund', 'admin', 'promo',
                      'payment_refund', 'payment_refund_reversed', 'free_redo'));
DROP INDEX token_ledger_once_idx;
CREATE UNIQUE INDEX token_ledger_once_idx ON token_ledger (reason, reference)
    WHERE reason IN ('purchase', 'referral_bonus', 'refund', 'promo', 'payment_refund',
                     'payment_refund_reversed', 'free_redo');
