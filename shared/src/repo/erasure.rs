//! User data deletion: a model's training photos and Replicate references removed, the model kept
//! as `canceled` (its ledger entries and generations still point at it).

use super::{fetch_value, fetch_values, int8, DbError, GenericClient};

/// Deletes the model's training photos and clears what points at its trained weights (version,
/// weights URL, destination, preview); the model becomes `canceled`. Returns the photos removed.
/// The training id stays, so a late Replicate report still finds the model (and, it being final,
/// changes nothing).
pub async fn erase_model(db: &impl GenericClient, model_id: i64) -> Result<i64, DbError> {
    fetch_value(
        db,
        "WITH photos AS (
                DELETE FROM training_photos WHERE model_id = $1 RETURNING 1
             ), erased AS (
                UPDATE models SET status = 'canceled', version = NULL, weights_url = NULL,
                    replicate_model = NULL, preview_file_id = NULL, preview_url = NULL,
                    preview_key = NULL, error = 'deleted by its owner', updated_at = now(),
                    finished_at = COALESCE(finished_at, now())
                WHERE id = $1
                RETURNING id
             )
             SELECT (SELECT count(*) FROM photos) AS photos, (SELECT count(*) FROM erased) AS models",
        &[int8(&model_id)],
    )
    .await
}

/// Removes a model that is still a draft (with its photos' rows): a training request that failed
/// before anything was charged leaves nothing behind. Returns whether the model's stored photos are
/// nobody's now, to delete: it was removed, or it was canceled meanwhile (its owner deleted it or
/// erased their data), or it is gone. False while it lives on (another request submitted it).
pub async fn delete_draft(db: &impl GenericClient, model_id: i64) -> Result<bool, DbError> {
    fetch_value(
        db,
        "WITH removed AS (DELETE FROM models WHERE id = $1 AND status = 'draft' RETURNING 1)
         SELECT EXISTS (SELECT 1 FROM removed)
             OR NOT EXISTS (SELECT 1 FROM models WHERE id = $1 AND status <> 'canceled')",
        &[int8(&model_id)],
    )
    .await
}

/// What of a user's data lives at Replicate, to delete there (read under the user's row lock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteData {
    /// Trainings in progress (the model is `training`).
    pub trainings: Vec<String>,
    /// Trained versions (`owner/name:<id>`).
    pub versions: Vec<String>,
    /// Files we uploaded: photos' stored URLs and every training attempt's zip.
    pub file_urls: Vec<String>,
    /// Predictions in progress.
    pub predictions: Vec<String>,
    /// Models still queued (nothing ran): `(model id, cost)`, refunded.
    pub queued: Vec<(i64, i64)>,
    /// Generations paid and not yet at Replicate (nothing ran): `(generation id, what it cost the
    /// user)`, refunded.
    pub unstarted: Vec<(i64, i64)>,
}

/// Locks the user's models and reads what of the user's data lives at Replicate.
pub async fn remote_data(db: &impl GenericClient, user_id: i64) -> Result<RemoteData, DbError> {
    let models = db
        .query_typed(
            "SELECT id, status, cost_tokens, replicate_training_id, version FROM models
             WHERE user_id = $1 ORDER BY id FOR UPDATE",
            &[int8(&user_id)],
        )
        .await?;
    let mut data = RemoteData::default();
    for row in &models {
        let status: &str = row.get("status");
        let training: Option<String> = row.get("replicate_training_id");
        if status == "training" {
            data.trainings.extend(training);
        }
        if status == "queued" {
            data.queued.push((row.get("id"), row.get("cost_tokens")));
        }
        data.versions
            .extend(row.get::<_, Option<String>>("version"));
    }
    data.file_urls = fetch_values(
        db,
        "SELECT p.source_url AS url FROM training_photos p JOIN models m ON m.id = p.model_id
             WHERE m.user_id = $1 AND p.source_url IS NOT NULL
             UNION
             SELECT a.input_ref FROM replicate_attempts a JOIN models m ON m.id = a.subject_id
             WHERE a.kind = 'training' AND m.user_id = $1 AND a.input_ref IS NOT NULL
             ORDER BY 1",
        &[int8(&user_id)],
    )
    .await?;
    let unstarted = db
        .query_typed(
            "SELECT id, CASE WHEN free_redo THEN 0 ELSE cost_tokens END AS paid FROM generations
             WHERE user_id = $1 AND status IN ('pending', 'starting', 'processing')
               AND replicate_prediction_id IS NULL
             ORDER BY id FOR UPDATE",
            &[int8(&user_id)],
        )
        .await?;
    data.unstarted = unstarted
        .iter()
        .map(|row| (row.get("id"), row.get("paid")))
        .collect();
    data.predictions = fetch_values(
        db,
        "SELECT replicate_prediction_id FROM generations
             WHERE user_id = $1 AND status IN ('pending', 'starting', 'processing')
               AND replicate_prediction_id IS NOT NULL
             ORDER BY id",
        &[int8(&user_id)],
    )
    .await?;
    Ok(data)
}

/// What [`erase_user`] removed or cleared (0 everywhere when there was nothing left to erase).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasedRows {
    /// Training photos deleted (with their Telegram file ids and URLs).
    pub photos: i64,
    /// Models cleared: name, trained version, weights, previews; each is `canceled`.
    pub models: i64,
    /// Generations cleared: prompts, result URLs, Telegram file ids; one in progress is `canceled`.
    pub generations: i64,
    /// Ratings and comments deleted.
    pub feedback: i64,
    /// Journey events whose details were cleared (what remains: the event, its time, a status).
    pub events: i64,
    /// The profile (names, username, language) was cleared.
    pub profile: bool,
}

/// Erases what names or shows the person, in the caller's transaction (which holds the user's
/// row lock): training photos and feedback deleted; models, generations, journey events, settled
/// effects and the profile cleared. Payments, the ledger and referrals stay as they are (they
/// name no one beyond the user's id). Running it again changes nothing.
pub async fn erase_user(db: &impl GenericClient, user_id: i64) -> Result<ErasedRows, DbError> {
    let row = db
        .query_typed_one(
            "WITH photos AS (
                DELETE FROM training_photos p USING models m
                WHERE m.id = p.model_id AND m.user_id = $1 RETURNING 1
             ), models_erased AS (
                UPDATE models SET status = 'canceled', name = 'deleted', version = NULL,
                    weights_url = NULL, replicate_model = NULL, preview_file_id = NULL,
                    preview_url = NULL, preview_key = NULL, status_message_id = NULL, model_type = 'user',
                    shared_consent_at = NULL, error = 'deleted by its owner', updated_at = now(),
                    finished_at = COALESCE(finished_at, now())
                WHERE user_id = $1
                  AND (status, name, version, weights_url, replicate_model, preview_file_id,
                       preview_url, preview_key, status_message_id, model_type, shared_consent_at)
                      IS DISTINCT FROM ('canceled', 'deleted', NULL, NULL, NULL, NULL, NULL, NULL,
                                        NULL, 'user', NULL)
                RETURNING 1
             ), generations_erased AS (
                UPDATE generations SET prompt = '', full_prompt = '', result_urls = '{}',
                    telegram_file_ids = '{}', image_keys = '{}', error = NULL,
                    status = CASE WHEN status IN ('pending', 'starting', 'processing')
                                  THEN 'canceled' ELSE status END,
                    finished_at = COALESCE(finished_at, now()), updated_at = now()
                WHERE user_id = $1
                  AND (prompt <> '' OR full_prompt <> '' OR result_urls <> '{}'
                       OR telegram_file_ids <> '{}' OR image_keys <> '{}' OR error IS NOT NULL
                       OR status IN ('pending', 'starting', 'processing'))
                RETURNING 1
             ), uploads_erased AS (
                DELETE FROM uploads WHERE user_id = $1 RETURNING 1
             ), feedback AS (
                DELETE FROM generation_feedback WHERE user_id = $1 RETURNING 1
             ), answers AS (
                -- Stored API answers repeat prompts and names (a running key holds none).
                DELETE FROM idempotency_keys WHERE user_id = $1 AND state = 'done' RETURNING 1
             ), events AS (
                UPDATE user_events SET metadata = CASE WHEN metadata ? 'status'
                        THEN jsonb_build_object('status', metadata->'status') ELSE '{}' END
                WHERE user_id = $1
                  AND metadata <> CASE WHEN metadata ? 'status'
                        THEN jsonb_build_object('status', metadata->'status') ELSE '{}' END
                RETURNING 1
             ), effects_scrubbed AS (
                UPDATE effects SET
                    payload = CASE
                        WHEN payload->'notice' ? 'name' THEN jsonb_set(payload, '{notice,name}', '\"\"')
                        WHEN payload->'notice' ? 'friend' THEN jsonb_set(payload, '{notice,friend}', '\"\"')
                        ELSE payload END,
                    result = CASE WHEN kind = 'deliver_generation' THEN NULL ELSE result END
                WHERE state IN ('done', 'failed')
                  AND ((kind = 'notify' AND payload->>'user_id' = $1::text)
                       OR dedupe_key = 'referral-joined:' || $1::text
                       OR (kind = 'deliver_generation'
                           AND payload->>'generation_id' IN
                               (SELECT id::text FROM generations WHERE user_id = $1)))
                RETURNING 1
             ), profile AS (
                UPDATE users SET username = NULL, first_name = '', last_name = NULL,
                    language_code = NULL, language = NULL, dialog = '{\"state\": \"idle\"}',
                    erased_at = now(), updated_at = now()
                WHERE id = $1
                  AND (username IS NOT NULL OR first_name <> '' OR last_name IS NOT NULL
                       OR language_code IS NOT NULL OR language IS NOT NULL)
                RETURNING 1
             )
             SELECT (SELECT count(*) FROM photos) AS photos,
                    (SELECT count(*) FROM models_erased) AS models,
                    (SELECT count(*) FROM generations_erased) AS generations,
                    (SELECT count(*) FROM feedback) AS feedback,
                    (SELECT count(*) FROM events) AS events,
                    (SELECT count(*) FROM effects_scrubbed) AS effects,
                    (SELECT count(*) FROM profile) AS profile",
            &[int8(&user_id)],
        )
        .await?;
    Ok(ErasedRows {
        photos: row.get("photos"),
        models: row.get("models"),
        generations: row.get("generations"),
        feedback: row.get("feedback"),
        events: row.get("events"),
        profile: row.get::<_, i64>("profile") > 0,
    })
}
