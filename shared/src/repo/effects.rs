//! The effect log: outside effects written with the state change that causes them, then taken,
//! executed and settled by the dispatcher ([`crate::effects`]).
//!
//! `pending` → `running` (taken, under a lease) → `done` | `failed`, or back to `pending` with a later
//! `next_attempt_at` after a transient failure. A `running` row whose lease ran out (its executor
//! died) is due again.

use serde_json::Value;
use tokio_postgres::Row;

use super::{fetch_opt, find, find_all, DbError, FromRow, GenericClient, Type};

/// One effect, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectRow {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: String,
    pub payload: Value,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub result: Option<Value>,
}

const COLUMNS: &str = "id, dedupe_key, kind, payload, state, attempts, last_error, result";

impl FromRow for EffectRow {
    const COLUMNS: &'static str = COLUMNS;
    const FROM: &'static str = "effects";

    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            dedupe_key: row.get("dedupe_key"),
            kind: row.get("kind"),
            payload: row.get("payload"),
            state: row.get("state"),
            attempts: row.get("attempts"),
            last_error: row.get("last_error"),
            result: row.get("result"),
        }
    }
}

/// Writes an effect unless one with the same key exists. Returns its id when it is new.
pub async fn insert(
    db: &impl GenericClient,
    dedupe_key: &str,
    kind: &str,
    payload: &Value,
) -> Result<Option<i64>, DbError> {
    let row = db
        .query_typed_opt(
            "INSERT INTO effects (dedupe_key, kind, payload) VALUES ($1, $2, $3)
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            &[
                (&dedupe_key, Type::TEXT),
                (&kind, Type::TEXT),
                (payload, Type::JSONB),
            ],
        )
        .await?;
    Ok(row.map(|r| r.get("id")))
}

/// Takes a due effect for execution under a lease of `lease_seconds`: `None` when it is done, failed,
/// not yet due, or owned by a live executor.
pub async fn take(
    db: &impl GenericClient,
    id: i64,
    lease_seconds: i64,
) -> Result<Option<EffectRow>, DbError> {
    fetch_opt(
        db,
        &format!(
            "UPDATE effects SET state = 'running', attempts = attempts + 1,
                    lease_until = now() + make_interval(secs => $2)
                 WHERE id = $1
                   AND ((state = 'pending' AND next_attempt_at <= now())
                        OR (state = 'running' AND lease_until < now()))
                 RETURNING {COLUMNS}"
        ),
        &[(&id, Type::INT8), (&(lease_seconds as f64), Type::FLOAT8)],
    )
    .await
}

/// Ids of effects that are due (oldest due first): pending ones whose time has come, and running
/// ones whose executor's lease ran out.
pub async fn due(db: &impl GenericClient, limit: i64) -> Result<Vec<i64>, DbError> {
    let rows = db
        .query_typed(
            "SELECT id FROM effects
             WHERE (state = 'pending' AND next_attempt_at <= now())
                OR (state = 'running' AND lease_until < now())
             ORDER BY next_attempt_at, id LIMIT $1",
            &[(&limit, Type::INT8)],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get("id")).collect())
}

/// Executed: what the remote answered is kept.
pub async fn finish(db: &impl GenericClient, id: i64, result: &Value) -> Result<(), DbError> {
    db.execute_typed(
        "UPDATE effects SET state = 'done', result = $2, finished_at = now(), lease_until = NULL
         WHERE id = $1",
        &[(&id, Type::INT8), (result, Type::JSONB)],
    )
    .await?;
    Ok(())
}

/// Not executed this time: due again after `after_seconds`. With `counted` false the attempt does
/// not count toward the limit (the work waits for us, e.g. our credentials, not for the remote).
pub async fn retry_later(
    db: &impl GenericClient,
    id: i64,
    after_seconds: f64,
    error: &str,
    counted: bool,
) -> Result<(), DbError> {
    db.execute_typed(
        "UPDATE effects SET state = 'pending', next_attempt_at = now() + make_interval(secs => $2),
            last_error = $3, lease_until = NULL,
            attempts = CASE WHEN $4 THEN attempts ELSE attempts - 1 END
         WHERE id = $1",
        &[
            (&id, Type::INT8),
            (&after_seconds, Type::FLOAT8),
            (&error, Type::TEXT),
            (&counted, Type::BOOL),
        ],
    )
    .await?;
    Ok(())
}

/// Failed for good: kept with its error for the admins.
pub async fn fail(db: &impl GenericClient, id: i64, error: &str) -> Result<(), DbError> {
    db.execute_typed(
        "UPDATE effects SET state = 'failed', last_error = $2, finished_at = now(), lease_until = NULL
         WHERE id = $1",
        &[(&id, Type::INT8), (&error, Type::TEXT)],
    )
    .await?;
    Ok(())
}

pub async fn get_by_key(
    db: &impl GenericClient,
    dedupe_key: &str,
) -> Result<Option<EffectRow>, DbError> {
    find(db, "dedupe_key = $1", &[(&dedupe_key, Type::TEXT)]).await
}

/// Effects not yet settled, oldest first (for the operator and the tests).
pub async fn list_unsettled(db: &impl GenericClient) -> Result<Vec<EffectRow>, DbError> {
    find_all(db, "state IN ('pending', 'running') ORDER BY id", &[]).await
}

/// Deletes settled effects finished more than `days` ago, at most `limit` a call. Returns how many.
pub async fn prune(db: &impl GenericClient, days: i32, limit: i64) -> Result<u64, DbError> {
    db.execute_typed(
        "DELETE FROM effects WHERE id IN (
             SELECT id FROM effects
             WHERE state IN ('done', 'failed') AND finished_at < now() - make_interval(days => $1)
             LIMIT $2)",
        &[(&days, Type::INT4), (&limit, Type::INT8)],
    )
    .await
    .map_err(Into::into)
}
