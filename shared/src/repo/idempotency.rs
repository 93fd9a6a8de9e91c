//! Idempotency keys of the API's paid and state-changing requests (`Idempotency-Key`).
//!
//! A request with a key *claims* it (one statement) before it is carried out: the claim is new, or the
//! row of the first request with that key says what became of it (still running, finished with an
//! answer to replay, or interrupted). The first request then *stores* its answer, or *releases* the
//! key after an answer a retry may change (a 5xx, a conflict), so the retry is carried out afresh.
//! Keys are the user's own; a row older than [`KEEP_HOURS`] counts as absent and is [`purge`]d.

use chrono::{DateTime, Utc};

use super::{DbError, GenericClient, Type};

/// How long a key holds: a request with a key older than this is carried out as new.
pub const KEEP_HOURS: i32 = 24;

/// A key as one request holds it.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    pub user_id: i64,
    pub key: &'a str,
    /// sha256 of what makes the request (method, path, body): 32 bytes.
    pub request_hash: &'a [u8],
}

/// The claim of a request that is to be carried out: its store and release touch this claim's row
/// only (never a newer request's with the same key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    pub created_at: DateTime<Utc>,
}

/// A first request's finished answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What claiming a key gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The key is new (or its row was older than [`KEEP_HOURS`]): carry the request out.
    New(Held),
    /// The key was used for another request (another method, path or body).
    OtherRequest,
    /// The first request with the key is still running (within its lease), or was claimed by a
    /// concurrent statement this one could not see yet.
    Running,
    /// The first request is `running` past its lease: it died mid-way and may have done its work.
    Interrupted,
    /// The first request finished: its answer.
    Done(StoredAnswer),
}

// The insert claims a new key, or takes over a row older than KEEP_HOURS; otherwise the row as it
// was before this statement says what became of the first request.
const CLAIM: &str = "WITH claimed AS (
         INSERT INTO idempotency_keys AS k (user_id, key, request_hash, lease_until)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (user_id, key) DO UPDATE SET
             request_hash = EXCLUDED.request_hash, state = 'running', status = NULL,
             content_type = NULL, body = NULL, created_at = now(), lease_until = EXCLUDED.lease_until
         WHERE k.created_at <= now() - make_interval(hours => $5)
         RETURNING k.created_at)
     SELECT true AS new, c.created_at, NULL::bytea AS request_hash, NULL::text AS state,
            NULL::bool AS lapsed, NULL::int2 AS status, NULL::text AS content_type,
            NULL::bytea AS body
     FROM claimed c
     UNION ALL
     SELECT false, k.created_at, k.request_hash, k.state, k.lease_until < now(), k.status,
            k.content_type, k.body
     FROM idempotency_keys k
     WHERE k.user_id = $1 AND k.key = $2 AND NOT EXISTS (SELECT 1 FROM claimed)";

/// Claims `claim.key` for a request that may run `lease_seconds` (past it, a row still running is
/// taken for interrupted). One statement.
pub async fn claim(
    db: &impl GenericClient,
    claim: &KeyClaim<'_>,
    lease_seconds: f64,
) -> Result<Claimed, DbError> {
    let row = db
        .query_typed_opt(
            CLAIM,
            &[
                (&claim.user_id, Type::INT8),
                (&claim.key, Type::TEXT),
                (&claim.request_hash, Type::BYTEA),
                (&lease_seconds, Type::FLOAT8),
                (&KEEP_HOURS, Type::INT4),
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(Claimed::Running);
    };
    if row.get::<_, bool>("new") {
        return Ok(Claimed::New(Held {
            created_at: row.get("created_at"),
        }));
    }
    let hash: Vec<u8> = row.get("request_hash");
    if hash != claim.request_hash {
        return Ok(Claimed::OtherRequest);
    }
    let state: String = row.get("state");
    let status: Option<i16> = row.get("status");
    let body: Option<Vec<u8>> = row.get("body");
    Ok(match (state.as_str(), status, body) {
        ("done", Some(status), Some(body)) => Claimed::Done(StoredAnswer {
            status: u16::try_from(status).unwrap_or(500),
            content_type: row.get("content_type"),
            body,
        }),
        _ if row.get::<_, Option<bool>>("lapsed").unwrap_or(false) => Claimed::Interrupted,
        _ => Claimed::Running,
    })
}

/// Stores the answer of the request that holds the claim, to replay. False when the row is not
/// that claim's any more (nothing is stored).
pub async fn store(
    db: &impl GenericClient,
    claim: &KeyClaim<'_>,
    held: Held,
    answer: &StoredAnswer,
) -> Result<bool, DbError> {
    let status = i16::try_from(answer.status).unwrap_or(500);
    let changed = db
        .execute_typed(
            "UPDATE idempotency_keys SET state = 'done', status = $4, content_type = $5, body = $6
             WHERE user_id = $1 AND key = $2 AND created_at = $3 AND state = 'running'",
            &[
                (&claim.user_id, Type::INT8),
                (&claim.key, Type::TEXT),
                (&held.created_at, Type::TIMESTAMPTZ),
                (&status, Type::INT2),
                (&answer.content_type, Type::TEXT),
                (&answer.body, Type::BYTEA),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Gives the key back (deletes the claim's row), so a retry with it is carried out afresh.
pub async fn release(
    db: &impl GenericClient,
    claim: &KeyClaim<'_>,
    held: Held,
) -> Result<bool, DbError> {
    let changed = db
        .execute_typed(
            "DELETE FROM idempotency_keys
             WHERE user_id = $1 AND key = $2 AND created_at = $3 AND state = 'running'",
            &[
                (&claim.user_id, Type::INT8),
                (&claim.key, Type::TEXT),
                (&held.created_at, Type::TIMESTAMPTZ),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Forgets the finished answer `body` stored under the claim's key (what it answered no longer
/// holds), so the key can be claimed afresh. False when the row is not that answer.
pub async fn forget_answer(
    db: &impl GenericClient,
    claim: &KeyClaim<'_>,
    body: &[u8],
) -> Result<bool, DbError> {
    let changed = db
        .execute_typed(
            "DELETE FROM idempotency_keys
             WHERE user_id = $1 AND key = $2 AND state = 'done' AND body = $3",
            &[
                (&claim.user_id, Type::INT8),
                (&claim.key, Type::TEXT),
                (&body, Type::BYTEA),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Deletes keys older than [`KEEP_HOURS`] (they count as absent already), at most `limit`.
pub async fn purge(db: &impl GenericClient, limit: i64) -> Result<u64, DbError> {
    Ok(db
        .execute_typed(
            "DELETE FROM idempotency_keys WHERE (user_id, key) IN (
             SELECT user_id, key FROM idempotency_keys
             WHERE created_at <= now() - make_interval(hours => $1) LIMIT $2)",
            &[(&KEEP_HOURS, Type::INT4), (&limit, Type::INT8)],
        )
        .await?)
}
