-- Claims left unfinished (a handler that died, or an update that changed nothing and so was never
-- recorded as done) are pruned by age like finished ones.
CREATE INDEX processed_updates_unfinished_idx ON processed_updates (claimed_at) WHERE status = 'processing';
CREATE INDEX webhook_deliveries_unfinished_idx ON webhook_deliveries (claimed_at) WHERE status = 'processing';
