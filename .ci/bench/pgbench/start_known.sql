-- /start or /help of a known user: the update's claim and the sender's row (one round trip).
\set uid random(100000, 100499)
\set uid_update random(1000000000, 9000000000)
WITH claimed AS (INSERT INTO processed_updates (update_id) VALUES (:uid_update) ON CONFLICT (update_id) DO UPDATE SET claimed_at = now() WHERE processed_updates.status = 'processing' AND processed_updates.claimed_at < now() - interval '2 minutes' RETURNING 'claimed'::text AS claim) SELECT claim FROM claimed UNION ALL SELECT status FROM processed_updates WHERE update_id = :uid_update AND NOT EXISTS (SELECT 1 FROM claimed);
SELECT id, username, first_name, last_name, language_code, activated_at, tokens_left, tokens_spent, is_blocked, bot_blocked_at IS NOT NULL AS bot_blocked, referral_code, referred_by, dialog FROM users WHERE id = :uid;
