-- /start of a new user: claim and lookup, registration, the journey's first event, the admins'
-- notice in the effect log (written as done, so the running sweep leaves it), the update recorded as done.
\set uid_update random(1000000000, 9000000000)
WITH claimed AS (INSERT INTO processed_updates (update_id) VALUES (:uid_update) ON CONFLICT (update_id) DO UPDATE SET claimed_at = now() WHERE processed_updates.status = 'processing' AND processed_updates.claimed_at < now() - interval '2 minutes' RETURNING 'claimed'::text AS claim) SELECT claim FROM claimed UNION ALL SELECT status FROM processed_updates WHERE update_id = :uid_update AND NOT EXISTS (SELECT 1 FROM claimed);
SELECT id, username, first_name, last_name, language_code, activated_at, tokens_left, tokens_spent, is_blocked, bot_blocked_at IS NOT NULL AS bot_blocked, referral_code, referred_by, dialog FROM users WHERE id = :uid_update;
INSERT INTO users (id, first_name, language_code, referral_code) VALUES (:uid_update, 'U', 'en', md5(random()::text)) ON CONFLICT (id) DO UPDATE SET first_name = EXCLUDED.first_name RETURNING id, username, first_name, last_name, language_code, activated_at, tokens_left, tokens_spent, is_blocked, bot_blocked_at IS NOT NULL AS bot_blocked, referral_code, referred_by, dialog, (xmax = 0) AS created;
INSERT INTO user_events (user_id, event, metadata) VALUES (:uid_update, 'started', '{"source": "bot"}');
INSERT INTO effects (dedupe_key, kind, payload, state) VALUES ('new-user:' || :uid_update, 'tell_admins', '{}', 'done') ON CONFLICT DO NOTHING RETURNING id;
UPDATE processed_updates SET status = 'done', done_at = now() WHERE update_id = :uid_update;
