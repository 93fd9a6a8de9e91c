-- POST /api/generations: the caller, the rate limit, the model; the generation, its debit, its event
-- and its attempt in one transaction; the prediction's id attached.
\set uid random(500001, 500000 + :users)
SELECT id, username, first_name, last_name, language_code, activated_at, tokens_left, tokens_spent, is_blocked, bot_blocked_at IS NOT NULL AS bot_blocked, referral_code, referred_by, dialog FROM users WHERE id = :uid;
INSERT INTO rate_limits AS r (user_id, action, window_start, count) VALUES (:uid, 'generation', now(), 1) ON CONFLICT (user_id, action) DO UPDATE SET count = 1, window_start = EXCLUDED.window_start RETURNING r.count;
SELECT m.id, m.user_id, m.name, m.trigger_word, m.status, m.cost_tokens, m.replicate_training_id, m.replicate_model, m.version, m.weights_url, m.error, m.status_message_id, m.created_at, m.updated_at, m.queued_at, m.training_started_at, m.finished_at, m.model_type, m.preview_file_id, m.preview_url, m.preview_key, m.keep_photos, m.training_seconds, m.shared_consent_at, (SELECT count(*) FROM training_photos p WHERE p.model_id = m.id) AS photo_count FROM models m WHERE m.id = (SELECT min(id) FROM models WHERE status = 'ready');
BEGIN;
INSERT INTO generations (user_id, model_id, prompt, full_prompt, num_images, cost_tokens) SELECT :uid, min(id), 'a portrait', 'TOK a portrait', 1, 1 FROM models WHERE status = 'ready' RETURNING id \gset g_
UPDATE users SET tokens_left = tokens_left - 1, tokens_spent = tokens_spent + 1, updated_at = now() WHERE id = :uid AND tokens_left >= 1 RETURNING tokens_left \gset u_
INSERT INTO token_ledger (user_id, delta, balance_after, reason, reference) VALUES (:uid, -1, :u_tokens_left, 'generation', 'generation:' || :g_id);
INSERT INTO user_events (user_id, event, metadata) VALUES (:uid, 'generation_requested', '{}');
INSERT INTO replicate_attempts (tag, kind, subject_id, input_ref, lease_until) VALUES (md5(random()::text), 'prediction', :g_id, '1', now() + interval '60 seconds');
COMMIT;
UPDATE generations SET replicate_prediction_id = 'bench' || :g_id, status = 'starting' WHERE id = :g_id;
