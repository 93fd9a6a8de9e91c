//! Generations: a prompt sent to Replicate for a user's model, and the images it gave.

use chrono::{DateTime, Utc};

use super::{
    boolean, changed_one, execute, fetch_one, fetch_opt, fetch_value, find, find_all, find_page,
    float8, int4, int8, record_check, text, text_array, DbError, GenericClient, Page,
};
use crate::domain::rules::{AspectRatio, RedoState};
use crate::domain::status::GenerationStatus;

#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub id: i64,
    pub user_id: i64,
    pub model_id: Option<i64>,
    pub style_id: Option<i64>,
    pub prompt: String,
    pub full_prompt: String,
    pub num_images: i32,
    pub status: GenerationStatus,
    pub replicate_prediction_id: Option<String>,
    pub result_urls: Vec<String>,
    pub telegram_file_ids: Vec<String>,
    /// Our copies of the images in the bucket, in `result_urls`' order (empty until copied).
    pub image_keys: Vec<String>,
    pub cost_tokens: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub aspect_ratio: AspectRatio,
    /// The generation this one repeats ("more like this", or a free redo of it).
    pub again_of: Option<i64>,
    /// Paid by a free redo's credit: its failure refunds nothing.
    pub free_redo: bool,
}

const COLUMNS: &str = "id, user_id, model_id, style_id, prompt, full_prompt, num_images, status, \
     replicate_prediction_id, result_urls, telegram_file_ids, image_keys, cost_tokens, error, created_at, finished_at, \
     aspect_ratio, again_of, free_redo";

from_row!(Generation, table "generations", columns COLUMNS, |row| {
    id, user_id, model_id, style_id, prompt, full_prompt, num_images,
    status: GenerationStatus::parse(row.get("status"))
        .expect("the CHECK constraint admits only known statuses"),
    replicate_prediction_id, result_urls, telegram_file_ids, image_keys, cost_tokens, error, created_at,
    finished_at,
    aspect_ratio: AspectRatio::parse(row.get("aspect_ratio"))
        .expect("the CHECK constraint admits only known ratios"),
    again_of, free_redo,
});

#[derive(Debug, Clone)]
pub struct NewGeneration<'a> {
    /// An id taken by [`next_id`], or `None` for the next one.
    pub id: Option<i64>,
    pub user_id: i64,
    pub model_id: i64,
    pub style_id: Option<i64>,
    pub prompt: &'a str,
    pub full_prompt: &'a str,
    pub num_images: i32,
    pub cost_tokens: i64,
    pub aspect_ratio: AspectRatio,
    pub again_of: Option<i64>,
    pub free_redo: bool,
}

pub async fn create(db: &impl GenericClient, g: &NewGeneration<'_>) -> Result<Generation, DbError> {
    let sql = format!(
        "INSERT INTO generations (id, user_id, model_id, style_id, prompt, full_prompt, num_images, cost_tokens,
                                  aspect_ratio, again_of, free_redo)
                 OVERRIDING SYSTEM VALUE
                 VALUES (COALESCE($8, nextval(pg_get_serial_sequence('generations', 'id'))),
                         $1, $2, $3, $4, $5, $6, $7, $9, $10, $11)
                 RETURNING {COLUMNS}"
    );
    let aspect_ratio = g.aspect_ratio.as_str();
    fetch_one(
        db,
        &sql,
        &[
            int8(&g.user_id),
            int8(&g.model_id),
            int8(&g.style_id),
            text(&g.prompt),
            text(&g.full_prompt),
            int4(&g.num_images),
            int8(&g.cost_tokens),
            int8(&g.id),
            text(&aspect_ratio),
            int8(&g.again_of),
            boolean(&g.free_redo),
        ],
    )
    .await
}

/// Takes the id the next generation is written with: known before its row, it lets the statements
/// that pay for it go out together with its insert.
pub async fn next_id(db: &impl GenericClient) -> Result<i64, DbError> {
    fetch_value(
        db,
        "SELECT nextval(pg_get_serial_sequence('generations', 'id'))",
        &[],
    )
    .await
}

pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<Generation>, DbError> {
    find(db, "id = $1", &[int8(&id)]).await
}

pub async fn get_owned(
    db: &impl GenericClient,
    id: i64,
    user_id: i64,
) -> Result<Option<Generation>, DbError> {
    find(db, "id = $1 AND user_id = $2", &[int8(&id), int8(&user_id)]).await
}

/// What decides `user_id`'s generation `id`'s free redo (`None`: not theirs): their rating, whether
/// it was delivered, and its free redos so far (the failed among them given back).
pub async fn redo_state(
    db: &impl GenericClient,
    id: i64,
    user_id: i64,
) -> Result<Option<RedoState>, DbError> {
    let row = db
        .query_typed_opt(
            "SELECT g.status = 'succeeded' AS delivered, g.free_redo,
                    (SELECT f.rating FROM generation_feedback f
                      WHERE f.generation_id = g.id AND f.user_id = g.user_id) AS rating,
                    count(r.id) AS made,
                    count(r.id) FILTER (WHERE r.status NOT IN ('failed', 'canceled')) AS live
             FROM generations g
             LEFT JOIN generations r ON r.again_of = g.id AND r.free_redo
             WHERE g.id = $1 AND g.user_id = $2
             GROUP BY g.id",
            &[int8(&id), int8(&user_id)],
        )
        .await?;
    Ok(row.map(|row| RedoState {
        rating: row.get("rating"),
        delivered: row.get("delivered"),
        was_free_redo: row.get("free_redo"),
        made: row.get("made"),
        live: row.get("live"),
    }))
}

/// Locks the generation's row until the transaction ends.
pub async fn get_for_update(
    db: &impl GenericClient,
    id: i64,
) -> Result<Option<Generation>, DbError> {
    find(db, "id = $1 FOR UPDATE", &[int8(&id)]).await
}

pub async fn find_by_prediction_id(
    db: &impl GenericClient,
    prediction_id: &str,
) -> Result<Option<Generation>, DbError> {
    find(db, "replicate_prediction_id = $1", &[text(&prediction_id)]).await
}

pub async fn list_for_user(
    db: &impl GenericClient,
    user_id: i64,
    page: Page,
) -> Result<Vec<Generation>, DbError> {
    find_page(db, Some(user_id), page).await
}

/// In-flight generations not updated or checked for `older_than_secs` (to poll when no webhook can
/// reach us), never-checked first: each check moves one to the back ([`mark_checked`]). One whose
/// album is on its way (its delivery not settled) is the delivery's to settle: Replicate removes
/// outputs after an hour, and a poll then would read a finished job with none.
pub async fn list_in_flight(
    db: &impl GenericClient,
    older_than_secs: i64,
    limit: i64,
) -> Result<Vec<Generation>, DbError> {
    find_all(
        db,
        "status IN ('starting', 'processing') AND replicate_prediction_id IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM effects e
                                   WHERE e.dedupe_key = 'deliver:' || generations.id
                                     AND e.state IN ('pending', 'running'))
                   AND updated_at < now() - make_interval(secs => $1)
                   AND (checked_at IS NULL OR checked_at <= now() - make_interval(secs => $1))
                 ORDER BY checked_at NULLS FIRST, updated_at LIMIT $2",
        &[float8(&(older_than_secs as f64)), int8(&limit)],
    )
    .await
}

/// Generations paid for but never started at Replicate (their start failed after the debit was
/// committed, or the Lambda died in between): nothing else would ever settle them.
pub async fn list_orphaned(
    db: &impl GenericClient,
    older_than_secs: i64,
    limit: i64,
) -> Result<Vec<Generation>, DbError> {
    find_all(
        db,
        "status = 'pending' AND replicate_prediction_id IS NULL
                   AND created_at < now() - make_interval(secs => $1)
                 ORDER BY created_at LIMIT $2",
        &[float8(&(older_than_secs as f64)), int8(&limit)],
    )
    .await
}

/// Records the Replicate prediction of a pending generation.
pub async fn set_prediction(
    db: &impl GenericClient,
    id: i64,
    prediction_id: &str,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE generations SET replicate_prediction_id = $2, status = 'starting', updated_at = now()
             WHERE id = $1 AND status = 'pending'",
        &[int8(&id), text(&prediction_id)],
    )
    .await
}

/// The statuses a generation may move to `next` from (the domain's rule, as the SQL compares them).
fn statuses_advancing_to(next: GenerationStatus) -> Vec<&'static str> {
    GenerationStatus::ALL
        .into_iter()
        .filter(|s| s.can_advance_to(next))
        .map(GenerationStatus::as_str)
        .collect()
}

/// Moves a generation forward to `next` (never back, never out of a final status). Returns it if it moved.
pub async fn advance(
    db: &impl GenericClient,
    id: i64,
    next: GenerationStatus,
    result_urls: Option<&[String]>,
    error: Option<&str>,
) -> Result<Option<Generation>, DbError> {
    let allowed_from = statuses_advancing_to(next);
    let next = next.as_str();
    let sql = format!(
        "UPDATE generations SET status = $2, result_urls = COALESCE($3, result_urls),
                    error = COALESCE($4, error), updated_at = now(),
                    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'canceled') THEN now() ELSE finished_at END
                 WHERE id = $1 AND status = ANY($5)
                 RETURNING {COLUMNS}"
    );
    fetch_opt(
        db,
        &sql,
        &[
            int8(&id),
            text(&next),
            text_array(&result_urls),
            text(&error),
            text_array(&allowed_from),
        ],
    )
    .await
}

/// A finished prediction's image URLs on generation `$1`, still in flight, kept as `$2`.
const SET_RESULTS: &str =
    "UPDATE generations SET result_urls = $2, status = 'processing', updated_at = now()
      WHERE id = $1 AND status IN ('pending', 'starting', 'processing')";

/// Keeps a finished prediction's image URLs on a generation not yet settled (it shows as
/// `processing` until its album is delivered). Returns whether it was still unsettled.
pub async fn set_results(
    db: &impl GenericClient,
    id: i64,
    result_urls: &[String],
) -> Result<bool, DbError> {
    changed_one(db, SET_RESULTS, &[int8(&id), text_array(&result_urls)]).await
}

/// [`set_results`] for a transaction whose `COMMIT` goes out with it, returning the generation as it
/// left it: a generation no longer in flight (settled meanwhile) fails the statement, so the
/// transaction rolls back ([`refused_results`] tells that failure from others).
pub async fn set_results_or_fail(
    db: &impl GenericClient,
    id: i64,
    result_urls: &[String],
) -> Result<Generation, DbError> {
    fetch_one(
        db,
        &updated_or_refused(SET_RESULTS, "not_in_flight"),
        &[int8(&id), text_array(&result_urls)],
    )
    .await
}

/// Whether [`set_results_or_fail`] failed because the generation is no longer in flight.
pub fn refused_results(e: &DbError) -> bool {
    matches!(super::refusal(e), Some(("not_in_flight", _)))
}

/// [`advance`] for a transaction whose `COMMIT` goes out with it: a generation that cannot move to
/// `next` fails the statement, so the transaction rolls back ([`refused_advance`] tells that
/// failure from others).
pub async fn advance_or_fail(
    db: &impl GenericClient,
    id: i64,
    next: GenerationStatus,
) -> Result<Generation, DbError> {
    let allowed_from = statuses_advancing_to(next);
    let next = next.as_str();
    fetch_one(
        db,
        &updated_or_refused(
            "UPDATE generations SET status = $2, updated_at = now(),
                    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'canceled') THEN now()
                                       ELSE finished_at END
              WHERE id = $1 AND status = ANY($3)",
            "not_moved",
        ),
        &[int8(&id), text(&next), text_array(&allowed_from)],
    )
    .await
}

/// A statement that returns the generation `update` changed, or fails with the refusal `code`
/// when it changed none (so a transaction sent with its `COMMIT` rolls back).
fn updated_or_refused(update: &str, code: &str) -> String {
    let columns = COLUMNS
        .split(',')
        .map(|c| format!("updated.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH updated AS ({update} RETURNING {COLUMNS})
         SELECT {columns}, CASE WHEN updated.id IS NULL THEN refuse('{code}', '') END AS refused
         FROM (SELECT 1) AS one LEFT JOIN updated ON true"
    )
}

/// Whether [`advance_or_fail`] failed because the generation could not move.
pub fn refused_advance(e: &DbError) -> bool {
    matches!(super::refusal(e), Some(("not_moved", _)))
}

/// Stores the Telegram file ids of the delivered images (Replicate's URLs expire within the hour).
pub async fn set_telegram_file_ids(
    db: &impl GenericClient,
    id: i64,
    file_ids: &[String],
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE generations SET telegram_file_ids = $2, updated_at = now() WHERE id = $1",
        &[int8(&id), text_array(&file_ids)],
    )
    .await
}

/// Records a sweep's check of a generation (to the back of the line); returns the failed checks in
/// a row (a good check resets them).
pub async fn mark_checked(db: &impl GenericClient, id: i64, failed: bool) -> Result<i32, DbError> {
    record_check(db, "generations", id, failed).await
}

/// Records where a generation's images are in the bucket (once: a second copy keeps the first).
/// A generation that failed or was canceled (erased, say) takes none. Returns whether the
/// generation holds copies now, these or a try's before (they have the same keys).
pub async fn set_image_keys(
    db: &impl GenericClient,
    id: i64,
    keys: &[String],
) -> Result<bool, DbError> {
    fetch_value(
        db,
        "WITH kept AS (
             UPDATE generations SET image_keys = $2
             WHERE id = $1 AND image_keys = '{}'
               AND status IN ('pending', 'starting', 'processing', 'succeeded')
             RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM kept)
             OR EXISTS (SELECT 1 FROM generations WHERE id = $1 AND image_keys <> '{}')",
        &[int8(&id), text_array(&keys)],
    )
    .await
}
