//! The effect log: outside effects written with the state change that causes them, then taken,
//! executed and settled by the dispatcher ([`crate::effects`]).
//!
//! `pending` → `running` (taken, under a lease) → `done` | `failed`, or back to `pending` with a later
//! `next_attempt_at` after a transient failure. A `running` row whose lease ran out (its executor
//! died) is due again.

use serde_json::Value;

use super::{
    boolean, execute, fetch_opt, fetch_value_opt, fetch_values, find, find_all, float8, int4, int8,
    jsonb, text, DbError, GenericClient,
};

/// One effect, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
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

from_row!(EffectRow, table "effects", columns COLUMNS, |row| {
    id, dedupe_key, kind, payload, state, attempts, last_error, result,
});

/// Writes an effect unless one with the same key exists. Returns its id when it is new.
pub async fn insert(
    db: &impl GenericClient,
    dedupe_key: &str,
    kind: &str,
    payload: &Value,
) -> Result<Option<i64>, DbError> {
    fetch_value_opt(
        db,
        "INSERT INTO effects (dedupe_key, kind, payload) VALUES ($1, $2, $3)
             ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        &[text(&dedupe_key), text(&kind), jsonb(payload)],
    )
    .await
}

/// Writes an effect already taken by the writer, under a lease of `lease_seconds` (its first
/// attempt), unless one with the same key exists: the writer executes it after commit with no
/// [`take`], and if it dies first the lease runs out and the effect is due like any other.
pub async fn insert_taken(
    db: &impl GenericClient,
    dedupe_key: &str,
    kind: &str,
    payload: &Value,
    lease_seconds: i64,
) -> Result<Option<EffectRow>, DbError> {
    fetch_opt(
        db,
        &format!(
            "INSERT INTO effects (dedupe_key, kind, payload, state, attempts, lease_until)
                 VALUES ($1, $2, $3, 'running', 1, now() + make_interval(secs => $4))
                 ON CONFLICT (dedupe_key) DO NOTHING RETURNING {COLUMNS}"
        ),
        &[
            text(&dedupe_key),
            text(&kind),
            jsonb(payload),
            float8(&(lease_seconds as f64)),
        ],
    )
    .await
}

/// How an effect went that its writer executed before the transaction writing it (so that
/// transaction records it settled, with no take and no finish of its own).
#[derive(Debug, Clone, PartialEq)]
pub enum Tried {
    /// Done, with what the remote answered.
    Done(Value),
    /// Not done: pending, due after `after_seconds` (for the sweep), with `attempts` counted and
    /// the error.
    Again {
        error: String,
        after_seconds: f64,
        attempts: i32,
    },
}

impl Tried {
    /// The state, attempts, result, error and wait it is written with.
    fn row(&self) -> (&'static str, i32, Option<&Value>, Option<&str>, f64) {
        match self {
            Tried::Done(result) => ("done", 1, Some(result), None, 0.0),
            Tried::Again {
                error,
                after_seconds,
                attempts,
            } => ("pending", *attempts, None, Some(error), *after_seconds),
        }
    }
}

/// Writes an effect as it went when tried ([`Tried`]), unless one with the same key exists.
pub async fn insert_tried(
    db: &impl GenericClient,
    dedupe_key: &str,
    kind: &str,
    payload: &Value,
    tried: &Tried,
) -> Result<(), DbError> {
    let (state, attempts, result, error, after) = tried.row();
    execute(
        db,
        "INSERT INTO effects (dedupe_key, kind, payload, state, attempts, result, last_error,
                              next_attempt_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8),
                     CASE WHEN $4 = 'done' THEN now() END)
             ON CONFLICT (dedupe_key) DO NOTHING",
        &[
            text(&dedupe_key),
            text(&kind),
            jsonb(payload),
            text(&state),
            int4(&attempts),
            jsonb(&result),
            text(&error),
            float8(&after),
        ],
    )
    .await
}

/// Settles a job's status message (no more edits) and, if it was being tracked and was not settled
/// before, writes its effect `kind` / `payload` under `dedupe_key` as it went when tried before
/// ([`insert_tried`]), by someone who saw the message `seen` (its id, or none yet): one statement.
/// Done with a message other than the one seen (it was sent meanwhile), the effect is written
/// pending instead, due at once, so the sweep ends that message too.
pub async fn settle_progress_and_insert_tried(
    db: &impl GenericClient,
    job: crate::domain::progress::Tracked,
    (dedupe_key, kind, payload): (&str, &str, &Value),
    seen: Option<i64>,
    tried: &Tried,
) -> Result<(), DbError> {
    let (state, attempts, result, error, after) = tried.row();
    execute(
        db,
        "WITH settled AS (
            UPDATE job_progress SET settled_at = now()
             WHERE kind = $9 AND subject_id = $10 AND settled_at IS NULL
             RETURNING message_id
         ),
         went AS (
            SELECT $4 = 'done' AND message_id IS DISTINCT FROM $11 AS missed FROM settled
         )
         INSERT INTO effects (dedupe_key, kind, payload, state, attempts, result, last_error,
                              next_attempt_at, finished_at)
             SELECT $1, $2, $3,
                    CASE WHEN missed THEN 'pending' ELSE $4 END,
                    CASE WHEN missed THEN 0 ELSE $5 END,
                    CASE WHEN missed THEN NULL ELSE $6 END,
                    CASE WHEN missed THEN NULL ELSE $7 END,
                    CASE WHEN missed THEN now() ELSE now() + make_interval(secs => $8) END,
                    CASE WHEN NOT missed AND $4 = 'done' THEN now() END
             FROM went
             ON CONFLICT (dedupe_key) DO NOTHING",
        &[
            text(&dedupe_key),
            text(&kind),
            jsonb(payload),
            text(&state),
            int4(&attempts),
            jsonb(&result),
            text(&error),
            float8(&after),
            text(&job.kind()),
            int8(&job.subject_id()),
            int8(&seen),
        ],
    )
    .await
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
        &[int8(&id), float8(&(lease_seconds as f64))],
    )
    .await
}

/// Ids of effects that are due (oldest due first): pending ones whose time has come, and running
/// ones whose executor's lease ran out.
pub async fn due(db: &impl GenericClient, limit: i64) -> Result<Vec<i64>, DbError> {
    fetch_values(
        db,
        "SELECT id FROM effects
             WHERE (state = 'pending' AND next_attempt_at <= now())
                OR (state = 'running' AND lease_until < now())
             ORDER BY next_attempt_at, id LIMIT $1",
        &[int8(&limit)],
    )
    .await
}

/// The effects due now (as [`due`] finds them), and how long the oldest has been due.
pub async fn backlog(db: &impl GenericClient) -> Result<super::Backlog, DbError> {
    super::fetch_one(
        db,
        "SELECT count(*) AS count,
                COALESCE(EXTRACT(EPOCH FROM now() - min(
                    CASE WHEN state = 'pending' THEN next_attempt_at ELSE lease_until END
                ))::float8, 0) AS oldest_seconds
             FROM effects
             WHERE (state = 'pending' AND next_attempt_at <= now())
                OR (state = 'running' AND lease_until < now())",
        &[],
    )
    .await
}

/// Executed: what the remote answered is kept.
pub async fn finish(db: &impl GenericClient, id: i64, result: &Value) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE effects SET state = 'done', result = $2, finished_at = now(), lease_until = NULL
         WHERE id = $1",
        &[int8(&id), jsonb(result)],
    )
    .await
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
    execute(
        db,
        "UPDATE effects SET state = 'pending', next_attempt_at = now() + make_interval(secs => $2),
            last_error = $3, lease_until = NULL,
            attempts = CASE WHEN $4 THEN attempts ELSE attempts - 1 END
         WHERE id = $1",
        &[
            int8(&id),
            float8(&after_seconds),
            text(&error),
            boolean(&counted),
        ],
    )
    .await
}

/// Failed for good: kept with its error for the admins.
pub async fn fail(db: &impl GenericClient, id: i64, error: &str) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE effects SET state = 'failed', last_error = $2, finished_at = now(), lease_until = NULL
         WHERE id = $1",
        &[int8(&id), text(&error)],
    )
    .await
}

pub async fn get_by_key(
    db: &impl GenericClient,
    dedupe_key: &str,
) -> Result<Option<EffectRow>, DbError> {
    find(db, "dedupe_key = $1", &[text(&dedupe_key)]).await
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
        &[int4(&days), int8(&limit)],
    )
    .await
    .map_err(Into::into)
}
