//! Personal models (LoRAs) and their training photos.

use chrono::{DateTime, Utc};

use super::{
    boolean, changed_one, execute, fetch_all, fetch_one, fetch_opt, find, find_all, find_page,
    float8, int8, jsonb, record_check, text, text_array, DbError, GenericClient, Page,
};
use crate::domain::status::ModelStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub trigger_word: String,
    pub status: ModelStatus,
    pub cost_tokens: i64,
    pub replicate_training_id: Option<String>,
    pub replicate_model: Option<String>,
    pub version: Option<String>,
    pub weights_url: Option<String>,
    pub error: Option<String>,
    pub status_message_id: Option<i64>,
    /// Its good photos (those the check found no problem with, or that were not checked).
    pub photo_count: i64,
    /// `user` (a person's own) or `system` (provided by admins to everyone).
    pub model_type: String,
    /// A photo made with the model (a Telegram file id), to show it by.
    pub preview_file_id: Option<String>,
    pub preview_url: Option<String>,
    /// The preview as one of our objects (the first image generated with it).
    pub preview_key: Option<String>,
    /// Its owner keeps the training photos once the training ends (otherwise they are deleted).
    pub keep_photos: bool,
    /// How long Replicate trained it.
    pub training_seconds: Option<f64>,
    /// When its owner agreed to have it offered to everyone (`None`: they have not, or withdrew).
    pub shared_consent_at: Option<DateTime<Utc>>,
    /// The ready model this one retrains with more photos (and replaces once ready).
    pub retrain_of: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub training_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "m.id, m.user_id, m.name, m.trigger_word, m.status, m.cost_tokens, m.replicate_training_id, \
     m.replicate_model, m.version, m.weights_url, m.error, m.status_message_id, m.created_at, m.updated_at, \
     m.queued_at, m.training_started_at, m.finished_at, m.model_type, m.preview_file_id, m.preview_url, \
     m.preview_key, m.keep_photos, m.training_seconds, m.shared_consent_at, m.retrain_of, \
     (SELECT count(*) FROM training_photos p WHERE p.model_id = m.id AND p.problem IS NULL) AS photo_count";

from_row!(Model, table "models m", columns COLUMNS, |row| {
    id, user_id, name, trigger_word,
    status: ModelStatus::parse(row.get("status"))
        .expect("the CHECK constraint admits only known statuses"),
    cost_tokens, replicate_training_id, replicate_model, version, weights_url, error,
    status_message_id, photo_count, model_type, preview_file_id, preview_url, preview_key, keep_photos,
    training_seconds,
    shared_consent_at, retrain_of, created_at, updated_at, queued_at, training_started_at, finished_at,
});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingPhoto {
    pub id: i64,
    pub file_unique_id: String,
    pub telegram_file_id: Option<String>,
    pub source_url: Option<String>,
    pub file_size: Option<i64>,
    pub mime_type: Option<String>,
    /// Our copy in the bucket, once there is one.
    pub storage_key: Option<String>,
    /// What the photo check found wrong (a `Problem`'s code): the photo is to be replaced, does not
    /// count and is not trained on. `None`: good, or not checked.
    pub problem: Option<String>,
    /// Its difference hash, when it was checked.
    pub photo_hash: Option<i64>,
    /// What the check measured (`photo_check::Measurements`).
    pub measurements: Option<serde_json::Value>,
}

from_row!(TrainingPhoto, table "training_photos",
    columns "id, file_unique_id, telegram_file_id, source_url, file_size, mime_type, storage_key, \
             problem, photo_hash, measurements",
    |row| { id, file_unique_id, telegram_file_id, source_url, file_size, mime_type, storage_key,
            problem, photo_hash, measurements });

/// What the photo check said of a photo being added.
#[derive(Debug, Clone, Default)]
pub struct PhotoCheck {
    pub problem: Option<String>,
    pub photo_hash: Option<i64>,
    pub measurements: Option<serde_json::Value>,
}

/// A photo to add to a draft: from Telegram (file ids), from a URL, or already in our bucket.
#[derive(Debug, Clone, Default)]
pub struct NewPhoto {
    pub file_unique_id: String,
    pub telegram_file_id: Option<String>,
    pub source_url: Option<String>,
    pub file_size: Option<i64>,
    pub mime_type: Option<String>,
    pub storage_key: Option<String>,
}

pub async fn create_draft(
    db: &impl GenericClient,
    user_id: i64,
    name: &str,
    trigger_word: &str,
) -> Result<Model, DbError> {
    let sql = format!(
        "WITH m AS (INSERT INTO models (user_id, name, trigger_word) VALUES ($1, $2, $3) RETURNING *)
                 SELECT {COLUMNS} FROM m"
    );
    fetch_one(
        db,
        &sql,
        &[int8(&user_id), text(&name), text(&trigger_word)],
    )
    .await
}

/// A training photo (`p`) a retraining carries: one the check did not reject, that can still be
/// fetched (on Telegram, at its URL, or in our bucket).
const FETCHABLE: &str = "(p.problem IS NULL AND \
     (p.telegram_file_id IS NOT NULL OR p.source_url IS NOT NULL OR p.storage_key IS NOT NULL))";

/// A draft retraining `old` (a ready model): the same name and trigger word (prompts and styles
/// made for it keep working), carrying the old model's photos that can still be fetched. Call with
/// `old`'s row locked, after [`open_retrain`] found none.
pub async fn create_retrain(db: &impl GenericClient, old: &Model) -> Result<Model, DbError> {
    let sql = format!(
        "WITH m AS (
            INSERT INTO models (user_id, name, trigger_word, retrain_of, keep_photos)
            VALUES ($1, $2, $3, $4, $5)
            RETURNING *
         ),
         carried AS (
            INSERT INTO training_photos
                (model_id, file_unique_id, telegram_file_id, source_url, file_size, mime_type, storage_key,
                 photo_hash, measurements)
            SELECT m.id, p.file_unique_id, p.telegram_file_id, p.source_url, p.file_size, p.mime_type,
                   p.storage_key, p.photo_hash, p.measurements
            FROM m, training_photos p
            WHERE p.model_id = $4 AND {FETCHABLE}
            RETURNING 1
         )
         SELECT {COLUMNS}, (SELECT count(*) FROM carried) AS carried FROM m"
    );
    let row = db
        .query_typed_one(
            &sql,
            &[
                int8(&old.user_id),
                text(&old.name),
                text(&old.trigger_word),
                int8(&old.id),
                boolean(&old.keep_photos),
            ],
        )
        .await?;
    let mut model = <Model as super::FromRow>::from_row(&row);
    // The count in COLUMNS sees the statement's snapshot, before the carried photos.
    model.photo_count = row.get("carried");
    Ok(model)
}

/// How many of `model_id`'s photos a retraining of it would carry (those that can still be fetched).
pub async fn carried_photo_count(db: &impl GenericClient, model_id: i64) -> Result<i64, DbError> {
    let sql =
        format!("SELECT count(*) FROM training_photos p WHERE p.model_id = $1 AND {FETCHABLE}");
    super::fetch_value(db, &sql, &[int8(&model_id)]).await
}

/// The retraining of `model_id` not yet settled (a draft, queued or training), if any.
pub async fn open_retrain(
    db: &impl GenericClient,
    model_id: i64,
) -> Result<Option<Model>, DbError> {
    find(
        db,
        "m.retrain_of = $1 AND m.status IN ('draft', 'queued', 'training')",
        &[int8(&model_id)],
    )
    .await
}

/// Retires a model its retraining replaced: `canceled`, without its version or weights (deleted at
/// Replicate through the effect log), no longer offered to anyone. Returns the version it had, when
/// it was still ready.
pub async fn retire(
    db: &impl GenericClient,
    model_id: i64,
    replaced_by: i64,
) -> Result<Option<Option<String>>, DbError> {
    let error = format!("replaced by model #{replaced_by}, retrained with more photos");
    super::fetch_value_opt(
        db,
        "UPDATE models m SET status = 'canceled', error = $2, version = NULL, weights_url = NULL,
                model_type = 'user', shared_consent_at = NULL, updated_at = now(), finished_at = now()
         FROM (SELECT id, version FROM models WHERE id = $1 AND status = 'ready' FOR UPDATE) old
         WHERE m.id = old.id
         RETURNING old.version",
        &[int8(&model_id), text(&error)],
    )
    .await
}

pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<Model>, DbError> {
    find(db, "m.id = $1", &[int8(&id)]).await
}

/// The model, if `user_id` owns it (a user sees only their own).
pub async fn get_owned(
    db: &impl GenericClient,
    id: i64,
    user_id: i64,
) -> Result<Option<Model>, DbError> {
    find(
        db,
        "m.id = $1 AND m.user_id = $2",
        &[int8(&id), int8(&user_id)],
    )
    .await
}

/// A model the user may generate with: their own, or a system model.
pub async fn get_usable(
    db: &impl GenericClient,
    id: i64,
    user_id: i64,
) -> Result<Option<Model>, DbError> {
    find(
        db,
        "m.id = $1 AND (m.user_id = $2 OR m.model_type = 'system')",
        &[int8(&id), int8(&user_id)],
    )
    .await
}

/// The ready model that serves in place of `model_id`: itself while ready, else the newest ready
/// retraining of it (or of a retraining of it), which replaced it. `None` when none is ready.
pub async fn ready_in_place_of(
    db: &impl GenericClient,
    model_id: i64,
) -> Result<Option<i64>, DbError> {
    super::fetch_value_opt(
        db,
        "WITH RECURSIVE line AS (
             SELECT id, status FROM models WHERE id = $1
             UNION ALL
             SELECT m.id, m.status FROM models m JOIN line l ON m.retrain_of = l.id
         )
         SELECT id FROM line WHERE status = 'ready' ORDER BY id = $1 DESC, id DESC LIMIT 1",
        &[int8(&model_id)],
    )
    .await
}

/// Ready system models (provided to everyone).
pub async fn list_system(db: &impl GenericClient) -> Result<Vec<Model>, DbError> {
    find_all(
        db,
        "m.model_type = 'system' AND m.status = 'ready' ORDER BY m.id",
        &[],
    )
    .await
}

/// Makes a model a system model (or a user's again).
pub async fn set_type(db: &impl GenericClient, id: i64, system: bool) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE models SET model_type = CASE WHEN $2 THEN 'system' ELSE 'user' END, updated_at = now() WHERE id = $1",
        &[int8(&id), boolean(&system)],
    )
    .await
}

/// The owner agrees (or no longer agrees) to have their model offered to everyone; withdrawing also
/// stops offering it at once. `false` when the model is not theirs.
pub async fn set_sharing_consent(
    db: &impl GenericClient,
    id: i64,
    user_id: i64,
    consent: bool,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE models SET
                shared_consent_at = CASE WHEN $3 THEN COALESCE(shared_consent_at, now()) END,
                model_type = CASE WHEN $3 THEN model_type ELSE 'user' END,
                updated_at = now()
             WHERE id = $1 AND user_id = $2",
        &[int8(&id), int8(&user_id), boolean(&consent)],
    )
    .await
}

/// What a model is shown by: a Telegram file id (what the bot sends), an image URL, one of our
/// objects (what the API signs).
#[derive(Debug, Clone, Copy, Default)]
pub struct Preview<'a> {
    pub file_id: Option<&'a str>,
    pub url: Option<&'a str>,
    pub key: Option<&'a str>,
}

/// Sets the preview, replacing any.
pub async fn set_preview(
    db: &impl GenericClient,
    id: i64,
    preview: Preview<'_>,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE models SET preview_file_id = $2, preview_url = $3, preview_key = $4 WHERE id = $1",
        &[
            int8(&id),
            text(&preview.file_id),
            text(&preview.url),
            text(&preview.key),
        ],
    )
    .await
}

/// Makes a delivered image the model's preview where it has none (an explicit URL is kept), if the
/// image is its owner's: a system model's preview is never one user's photo shown to everyone.
pub async fn set_first_preview(
    db: &impl GenericClient,
    id: i64,
    owner_id: i64,
    file_id: Option<&str>,
    key: Option<&str>,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE models SET preview_file_id = COALESCE(preview_file_id, $3),
                           preview_key = COALESCE(preview_key, $4)
             WHERE id = $1 AND user_id = $2 AND preview_url IS NULL
               AND (preview_file_id IS NULL AND $3::text IS NOT NULL
                    OR preview_key IS NULL AND $4::text IS NOT NULL)",
        &[int8(&id), int8(&owner_id), text(&file_id), text(&key)],
    )
    .await
}

/// Records how long the training ran at Replicate.
pub async fn set_training_seconds(
    db: &impl GenericClient,
    id: i64,
    seconds: f64,
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE models SET training_seconds = $2 WHERE id = $1",
        &[int8(&id), float8(&seconds)],
    )
    .await
}

/// The user's newest draft (a `/train` left half-way), if any.
pub async fn latest_draft(db: &impl GenericClient, user_id: i64) -> Result<Option<Model>, DbError> {
    find(
        db,
        "m.user_id = $1 AND m.status = 'draft' ORDER BY m.id DESC LIMIT 1",
        &[int8(&user_id)],
    )
    .await
}

/// Locks the model's row until the transaction ends.
pub async fn get_for_update(db: &impl GenericClient, id: i64) -> Result<Option<Model>, DbError> {
    find(db, "m.id = $1 FOR UPDATE OF m", &[int8(&id)]).await
}

pub async fn find_by_training_id(
    db: &impl GenericClient,
    training_id: &str,
) -> Result<Option<Model>, DbError> {
    find(db, "m.replicate_training_id = $1", &[text(&training_id)]).await
}

pub async fn list_for_user(
    db: &impl GenericClient,
    user_id: i64,
    page: Page,
) -> Result<Vec<Model>, DbError> {
    find_page(db, Some(user_id), page).await
}

/// Most recent models of every user, optionally only those with one status (admin views).
pub async fn list_recent(
    db: &impl GenericClient,
    status: Option<ModelStatus>,
    limit: i64,
) -> Result<Vec<Model>, DbError> {
    let status = status.map(ModelStatus::as_str);
    find_all(
        db,
        "($1::text IS NULL OR m.status = $1)
                 ORDER BY m.updated_at DESC LIMIT $2",
        &[text(&status), int8(&limit)],
    )
    .await
}

/// Models in `status` whose last change and last check are older than `older_than_secs`: trainings
/// to check with Replicate. Never-checked ones come first and each check moves a model to the back
/// ([`mark_checked`]), so jobs that always fail to check cannot keep the others waiting.
pub async fn list_stale(
    db: &impl GenericClient,
    status: ModelStatus,
    older_than_secs: i64,
    limit: i64,
) -> Result<Vec<Model>, DbError> {
    find_all(
        db,
        "m.status = $1 AND m.updated_at < now() - make_interval(secs => $2)
                   AND (m.checked_at IS NULL OR m.checked_at <= now() - make_interval(secs => $2))
                 ORDER BY m.checked_at NULLS FIRST, m.updated_at LIMIT $3",
        &[
            text(&status.as_str()),
            float8(&(older_than_secs as f64)),
            int8(&limit),
        ],
    )
    .await
}

/// Takes queued models whose job has not started for `older_than_secs`, marking them touched so
/// the next sweep leaves them alone for as long again (one requeue per period, not per sweep).
pub async fn take_stuck_queued(
    db: &impl GenericClient,
    older_than_secs: i64,
    limit: i64,
) -> Result<Vec<Model>, DbError> {
    fetch_all(
        db,
        &format!(
            "UPDATE models m SET updated_at = now()
                 WHERE m.id IN (
                     SELECT id FROM models
                     WHERE status = 'queued' AND updated_at < now() - make_interval(secs => $1)
                     ORDER BY updated_at LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING {COLUMNS}"
        ),
        &[float8(&(older_than_secs as f64)), int8(&limit)],
    )
    .await
}

/// Adds an unchecked photo to a draft model (see [`add_checked_photo`]).
pub async fn add_photo(
    db: &impl GenericClient,
    model_id: i64,
    photo: &NewPhoto,
) -> Result<(bool, i64), DbError> {
    add_checked_photo(db, model_id, photo, &PhotoCheck::default()).await
}

/// Adds a photo with what the check said of it to a draft model; a photo already there (same
/// file_unique_id) counts once. Returns whether it was new and the draft's good photos after.
pub async fn add_checked_photo(
    db: &impl GenericClient,
    model_id: i64,
    photo: &NewPhoto,
    check: &PhotoCheck,
) -> Result<(bool, i64), DbError> {
    let row = db
        .query_typed_one(
            "WITH added AS (
                INSERT INTO training_photos (model_id, file_unique_id, telegram_file_id, source_url, file_size, mime_type, storage_key,
                                             problem, photo_hash, measurements)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (model_id, file_unique_id) DO NOTHING
                RETURNING problem
             )
             SELECT (SELECT count(*) FROM added) AS added,
                    (SELECT count(*) FROM training_photos WHERE model_id = $1 AND problem IS NULL)
                    + (SELECT count(*) FROM added WHERE problem IS NULL) AS total",
            &[
                int8(&model_id),
                text(&photo.file_unique_id),
                text(&photo.telegram_file_id),
                text(&photo.source_url),
                int8(&photo.file_size),
                text(&photo.mime_type),
                text(&photo.storage_key),
                text(&check.problem),
                int8(&check.photo_hash),
                jsonb(&check.measurements),
            ],
        )
        .await?;
    Ok((row.get::<_, i64>("added") > 0, row.get("total")))
}

/// Every photo of the model, good and to be replaced, in the order they came.
pub async fn photos(db: &impl GenericClient, model_id: i64) -> Result<Vec<TrainingPhoto>, DbError> {
    find_all(db, "model_id = $1 ORDER BY id", &[int8(&model_id)]).await
}

/// The photos a training is made from: those the check found nothing wrong with.
pub async fn good_photos(
    db: &impl GenericClient,
    model_id: i64,
) -> Result<Vec<TrainingPhoto>, DbError> {
    find_all(
        db,
        "model_id = $1 AND problem IS NULL ORDER BY id",
        &[int8(&model_id)],
    )
    .await
}

/// Records where a training photo's copy in the bucket is.
pub async fn set_photo_storage_key(
    db: &impl GenericClient,
    photo_id: i64,
    key: &str,
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE training_photos SET storage_key = $2 WHERE id = $1",
        &[int8(&photo_id), text(&key)],
    )
    .await
}

/// The training photos' copies are gone from the bucket (the training ended and they were not
/// kept): the rows stop pointing at them.
pub async fn forget_photo_storage(db: &impl GenericClient, model_id: i64) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE training_photos SET storage_key = NULL
         WHERE model_id = $1 AND storage_key IS NOT NULL
           AND (telegram_file_id IS NOT NULL OR source_url IS NOT NULL)",
        &[int8(&model_id)],
    )
    .await
}

/// Where the stored copies of `model_id`'s photos are, other than under its own prefix: those a
/// retraining carried from the model it retrains (kept where that model put them).
pub async fn carried_photo_prefixes(
    db: &impl GenericClient,
    model_id: i64,
) -> Result<Vec<String>, DbError> {
    super::fetch_values(
        db,
        "SELECT DISTINCT regexp_replace(p.storage_key, '[^/]+$', '') FROM training_photos p
         JOIN models m ON m.id = p.model_id
         WHERE p.model_id = $1 AND p.storage_key IS NOT NULL
           AND p.storage_key NOT LIKE 'photos/' || m.user_id || '/' || m.id || '/%'
         ORDER BY 1",
        &[int8(&model_id)],
    )
    .await
}

/// Whether the owner keeps the model's training photos after the training.
pub async fn set_keep_photos(
    db: &impl GenericClient,
    model_id: i64,
    keep: bool,
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE models SET keep_photos = $2 WHERE id = $1",
        &[int8(&model_id), boolean(&keep)],
    )
    .await
}

pub async fn set_status_message(
    db: &impl GenericClient,
    model_id: i64,
    message_id: Option<i64>,
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE models SET status_message_id = $2 WHERE id = $1",
        &[int8(&model_id), int8(&message_id)],
    )
    .await
}

/// Moves a draft to `queued` with what it cost. False if it was not a draft (e.g. a double click).
pub async fn queue(
    db: &impl GenericClient,
    model_id: i64,
    cost_tokens: i64,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE models SET status = 'queued', cost_tokens = $2, queued_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'draft'",
        &[int8(&model_id), int8(&cost_tokens)],
    )
    .await
}

/// Records the Replicate training of a queued model and moves it to `training`.
pub async fn start_training(
    db: &impl GenericClient,
    model_id: i64,
    training_id: &str,
    replicate_model: &str,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE models SET status = 'training', replicate_training_id = $2, replicate_model = $3,
                    training_started_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'queued'",
        &[int8(&model_id), text(&training_id), text(&replicate_model)],
    )
    .await
}

/// Moves a model forward to `next` (only from an earlier, non-final status). Returns the model if it moved.
pub async fn advance(
    db: &impl GenericClient,
    model_id: i64,
    next: ModelStatus,
    version: Option<&str>,
    weights_url: Option<&str>,
    error: Option<&str>,
) -> Result<Option<Model>, DbError> {
    let allowed_from: Vec<&str> = ModelStatus::ALL
        .into_iter()
        .filter(|s| s.can_advance_to(next))
        .map(ModelStatus::as_str)
        .collect();
    let next = next.as_str();
    let sql = format!(
        "WITH m AS (
                    UPDATE models SET status = $2,
                        version = COALESCE($3, version), weights_url = COALESCE($4, weights_url),
                        error = COALESCE($5, error), updated_at = now(),
                        finished_at = CASE WHEN $2 IN ('ready', 'failed', 'canceled') THEN now() ELSE finished_at END
                    WHERE id = $1 AND status = ANY($6)
                    RETURNING *
                 )
                 SELECT {COLUMNS} FROM m"
    );
    fetch_opt(
        db,
        &sql,
        &[
            int8(&model_id),
            text(&next),
            text(&version),
            text(&weights_url),
            text(&error),
            text_array(&allowed_from),
        ],
    )
    .await
}

/// Touches a model in training (a `start`/`processing` event), so the stuck-job check waits longer.
pub async fn touch(db: &impl GenericClient, model_id: i64) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE models SET updated_at = now() WHERE id = $1 AND status = 'training'",
        &[int8(&model_id)],
    )
    .await
}

/// Records a sweep's check of a model (to the back of the line); a failed check is counted, a good
/// one resets the count. Returns the failed checks in a row.
pub async fn mark_checked(db: &impl GenericClient, id: i64, failed: bool) -> Result<i32, DbError> {
    record_check(db, "models", id, failed).await
}

/// Trainings paid for and not started yet, and how long the oldest has been queued.
pub async fn queued_backlog(db: &impl GenericClient) -> Result<super::Backlog, DbError> {
    fetch_one(
        db,
        "SELECT count(*) AS count,
                COALESCE(EXTRACT(EPOCH FROM now() - min(queued_at))::float8, 0) AS oldest_seconds
             FROM models WHERE status = 'queued'",
        &[],
    )
    .await
}
