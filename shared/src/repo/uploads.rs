//! Uploads: photos the Mini App puts straight into the bucket through signed URLs, kept here until a
//! training takes them or they expire.

use super::{fetch_all, find_all, float8, int8, text, text_array, DbError, GenericClient, Type};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: String,
    pub user_id: i64,
    pub storage_key: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The model whose training took it.
    pub model_id: Option<i64>,
}

const COLUMNS: &str =
    "id, user_id, storage_key, content_type, size, created_at, expires_at, model_id";

from_row!(Upload, table "uploads", columns COLUMNS, |row| {
    id, user_id, storage_key, content_type, size, created_at, expires_at, model_id,
});

/// An upload to announce: its id, where it goes, and what it may be.
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub id: String,
    pub storage_key: String,
    pub content_type: String,
    pub size: i64,
}

/// Records a user's announced uploads, valid for `ttl_secs`.
pub async fn create_all(
    db: &impl GenericClient,
    user_id: i64,
    uploads: &[NewUpload],
    ttl_secs: i64,
) -> Result<Vec<Upload>, DbError> {
    let ids: Vec<&str> = uploads.iter().map(|u| u.id.as_str()).collect();
    let keys: Vec<&str> = uploads.iter().map(|u| u.storage_key.as_str()).collect();
    let types: Vec<&str> = uploads.iter().map(|u| u.content_type.as_str()).collect();
    let sizes: Vec<i64> = uploads.iter().map(|u| u.size).collect();
    let sql = format!(
        "INSERT INTO uploads (id, user_id, storage_key, content_type, size, expires_at)
         SELECT id, $2, storage_key, content_type, size, now() + make_interval(secs => $6)
         FROM unnest($1::text[], $3::text[], $4::text[], $5::int8[])
              WITH ORDINALITY AS u(id, storage_key, content_type, size, n)
         ORDER BY n
         RETURNING {COLUMNS}"
    );
    let ttl = ttl_secs as f64;
    fetch_all(
        db,
        &sql,
        &[
            text_array(&ids),
            int8(&user_id),
            text_array(&keys),
            text_array(&types),
            (&sizes, Type::INT8_ARRAY),
            float8(&ttl),
        ],
    )
    .await
}

/// The user's uploads among `ids` that wait for a training: not expired, and taken by none, or by a
/// draft left unpaid for five minutes (longer than any request runs: the request that took them
/// died before paying).
/// Only a check: [`take`] is what makes one training's, once.
pub async fn waiting_among(
    db: &impl GenericClient,
    user_id: i64,
    ids: &[String],
) -> Result<Vec<Upload>, DbError> {
    find_all(
        db,
        "user_id = $1 AND id = ANY($2) AND expires_at > now() AND (model_id IS NULL OR model_id IN
             (SELECT id FROM models WHERE user_id = $1 AND status = 'draft' AND created_at < now() - interval '5 minutes'))",
        &[int8(&user_id), text_array(&ids)],
    )
    .await
}

/// Marks uploads as taken by a model's training: only those still waiting (see [`waiting_among`];
/// a second training asking for them at once takes none, and is refused). Returns how many it took.
pub async fn take(
    db: &impl GenericClient,
    user_id: i64,
    ids: &[String],
    model_id: i64,
) -> Result<u64, DbError> {
    db.execute_typed(
        "UPDATE uploads SET model_id = $3
         WHERE user_id = $1 AND id = ANY($2) AND expires_at > now()
           AND (model_id IS NULL OR model_id IN
                (SELECT id FROM models WHERE user_id = $1 AND status = 'draft' AND id <> $3
                   AND created_at < now() - interval '5 minutes'))",
        &[int8(&user_id), text_array(&ids), int8(&model_id)],
    )
    .await
    .map_err(DbError::from)
}

/// Uploads no training took, expired for `grace_secs`: what housekeeping deletes (objects, then rows).
pub async fn expired(
    db: &impl GenericClient,
    grace_secs: i64,
    limit: i64,
) -> Result<Vec<Upload>, DbError> {
    let grace = grace_secs as f64;
    find_all(
        db,
        "model_id IS NULL AND expires_at < now() - make_interval(secs => $1) ORDER BY expires_at LIMIT $2",
        &[float8(&grace), int8(&limit)],
    )
    .await
}

/// Forgets uploads whose objects were deleted.
pub async fn delete(db: &impl GenericClient, ids: &[String]) -> Result<u64, DbError> {
    db.execute_typed(
        "DELETE FROM uploads WHERE id = ANY($1)",
        &[text_array(&ids)],
    )
    .await
    .map_err(DbError::from)
}

/// How many of the user's uploads wait for a training (not taken, not expired), with the user's
/// new uploads serialised until the caller's transaction ends (so requests at once cannot each pass
/// the cap on what waits).
pub async fn count_waiting_locked(db: &impl GenericClient, user_id: i64) -> Result<i64, DbError> {
    let lock = format!("uploads:{user_id}");
    db.execute_typed(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[text(&lock)],
    )
    .await?;
    let row = db
        .query_typed_one(
            "SELECT count(*) AS n FROM uploads
             WHERE user_id = $1 AND model_id IS NULL AND expires_at > now()",
            &[int8(&user_id)],
        )
        .await?;
    Ok(row.get("n"))
}
