//! Attempts at remote jobs: a row written before we ask Replicate for a training or a prediction,
//! tagged in what we send, so an answer we never got is settled by finding the job at Replicate.
//!
//! An attempt is `starting` (the call may be in flight; a worker holds it until `lease_until`), then
//! `created` (Replicate's id known) or `abandoned` (it never became a job, or the job is unwanted).
//! At most one live (`starting`/`created`) attempt exists per model or generation.

use chrono::{DateTime, Utc};

use super::{
    changed_one, execute, fetch_one, fetch_opt, fetch_value, fetch_values, find, float8, int8,
    returns_row, text, DbError, GenericClient,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Training,
    Prediction,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Training => "training",
            Kind::Prediction => "prediction",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "training" => Kind::Training,
            _ => Kind::Prediction,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Starting,
    Created,
    Abandoned,
}

impl State {
    fn parse(s: &str) -> Self {
        match s {
            "starting" => State::Starting,
            "created" => State::Created,
            _ => State::Abandoned,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: i64,
    pub tag: String,
    pub kind: Kind,
    pub subject_id: i64,
    pub state: State,
    pub replicate_id: Option<String>,
    pub input_ref: Option<String>,
    pub destination: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Attempt {
    /// A `starting` attempt whose holder's time is up (crashed, killed, or gave it back).
    pub fn lease_expired(&self) -> bool {
        self.lease_until.is_none_or(|until| until <= Utc::now())
    }
}

from_row!(Attempt, table "replicate_attempts", columns COLUMNS, |row| {
    id, tag,
    kind: Kind::parse(row.get("kind")),
    subject_id,
    state: State::parse(row.get("state")),
    replicate_id, input_ref, destination, lease_until, created_at,
});

const COLUMNS: &str =
    "id, tag, kind, subject_id, state, replicate_id, input_ref, destination, lease_until, created_at";

/// A new attempt tag: 32 random lowercase hex digits.
pub fn new_tag() -> String {
    use rand::Rng;
    let n: u128 = rand::thread_rng().gen();
    format!("{n:032x}")
}

/// Records a new `starting` attempt held for `lease_secs`. `None` when the subject already has a
/// live attempt (the partial unique index refuses a second one).
pub async fn start(
    db: &impl GenericClient,
    kind: Kind,
    subject_id: i64,
    tag: &str,
    input_ref: Option<&str>,
    lease_secs: i64,
) -> Result<Option<Attempt>, DbError> {
    fetch_opt(
        db,
        &format!(
            "INSERT INTO replicate_attempts (tag, kind, subject_id, input_ref, lease_until)
                 VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                 ON CONFLICT DO NOTHING
                 RETURNING {COLUMNS}"
        ),
        &[
            text(&tag),
            text(&kind.as_str()),
            int8(&subject_id),
            text(&input_ref),
            float8(&(lease_secs as f64)),
        ],
    )
    .await
}

/// [`start`] for a transaction whose `COMMIT` goes out with it: an attempt that cannot start (the
/// subject has a live one, or the tag is taken) fails the statement, so the transaction rolls back
/// ([`refused_start`] tells that failure from others).
pub async fn start_or_fail(
    db: &impl GenericClient,
    kind: Kind,
    subject_id: i64,
    tag: &str,
    input_ref: Option<&str>,
    lease_secs: i64,
) -> Result<Attempt, DbError> {
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("started.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    fetch_one(
        db,
        &format!(
            "WITH started AS (
                INSERT INTO replicate_attempts (tag, kind, subject_id, input_ref, lease_until)
                     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
                     ON CONFLICT DO NOTHING
                     RETURNING {COLUMNS}
             )
             SELECT {columns},
                    CASE WHEN started.id IS NULL THEN refuse('attempt_not_started', '') END AS refused
             FROM (SELECT 1) AS one LEFT JOIN started ON true"
        ),
        &[
            text(&tag),
            text(&kind.as_str()),
            int8(&subject_id),
            text(&input_ref),
            float8(&(lease_secs as f64)),
        ],
    )
    .await
}

/// Whether [`start_or_fail`] failed because the attempt could not start.
pub fn refused_start(e: &DbError) -> bool {
    matches!(super::refusal(e), Some(("attempt_not_started", _)))
}

/// The live (`starting` or `created`) attempt of a model or generation.
pub async fn live(
    db: &impl GenericClient,
    kind: Kind,
    subject_id: i64,
) -> Result<Option<Attempt>, DbError> {
    find(
        db,
        "kind = $1 AND subject_id = $2 AND state IN ('starting', 'created')",
        &[text(&kind.as_str()), int8(&subject_id)],
    )
    .await
}

pub async fn by_tag(db: &impl GenericClient, tag: &str) -> Result<Option<Attempt>, DbError> {
    find(db, "tag = $1", &[text(&tag)]).await
}

/// Takes over a `starting` attempt whose lease expired, holding it for `lease_secs`. False if it
/// is not (or no longer) `starting` with an expired lease: someone else holds or settled it.
pub async fn take_over(
    db: &impl GenericClient,
    tag: &str,
    lease_secs: i64,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE replicate_attempts SET lease_until = now() + make_interval(secs => $2), updated_at = now()
             WHERE tag = $1 AND state = 'starting' AND (lease_until IS NULL OR lease_until <= now())",
        &[text(&tag), float8(&(lease_secs as f64))],
    )
    .await
}

/// Records what the remote call will carry (the uploaded zip's URL or the seed, the destination
/// model), if the attempt is still `starting` and held for at least `margin_secs` more, and a
/// training's model is still queued. Checked right before the remote call: a holder whose time ran
/// out never creates a job someone else settles, nor one for a model canceled or erased meanwhile.
pub async fn prepare(
    db: &impl GenericClient,
    tag: &str,
    input_ref: &str,
    destination: Option<&str>,
    margin_secs: i64,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE replicate_attempts SET input_ref = $2, destination = COALESCE($3, destination), updated_at = now()
             WHERE tag = $1 AND state = 'starting' AND lease_until > now() + make_interval(secs => $4)
               AND (kind <> 'training'
                    OR EXISTS (SELECT 1 FROM models WHERE id = subject_id AND status = 'queued'))",
        &[text(&tag), text(&input_ref), text(&destination), float8(&(margin_secs as f64))],
    )
    .await
}

/// The attempt became Replicate's job `replicate_id`. True if it moved (from `starting`, or it was
/// already created with that id: idempotent).
pub async fn mark_created(
    db: &impl GenericClient,
    tag: &str,
    replicate_id: &str,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE replicate_attempts SET state = 'created', replicate_id = $2, lease_until = NULL, updated_at = now()
             WHERE tag = $1 AND (state = 'starting' OR (state = 'created' AND replicate_id = $2))",
        &[text(&tag), text(&replicate_id)],
    )
    .await
}

/// The attempt became Replicate's prediction `replicate_id` and its generation, still `pending`,
/// moved to `starting` with it: [`mark_created`] and `generations::set_prediction` in one statement.
/// False when either did not move (the caller looks closer, in a transaction).
pub async fn attach_prediction(
    db: &impl GenericClient,
    tag: &str,
    replicate_id: &str,
) -> Result<bool, DbError> {
    fetch_value(
        db,
        "WITH marked AS (
            UPDATE replicate_attempts SET state = 'created', replicate_id = $2, lease_until = NULL,
                   updated_at = now()
             WHERE tag = $1 AND kind = 'prediction'
               AND (state = 'starting' OR (state = 'created' AND replicate_id = $2))
             RETURNING subject_id
         ), started AS (
            UPDATE generations SET replicate_prediction_id = $2, status = 'starting', updated_at = now()
             WHERE id = (SELECT subject_id FROM marked) AND status = 'pending'
             RETURNING id
         )
         SELECT EXISTS (SELECT 1 FROM started)",
        &[text(&tag), text(&replicate_id)],
    )
    .await
}

/// The attempt never became a job: only a `starting` one moves.
pub async fn abandon(db: &impl GenericClient, tag: &str) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE replicate_attempts SET state = 'abandoned', lease_until = NULL, updated_at = now()
             WHERE tag = $1 AND state = 'starting'",
        &[text(&tag)],
    )
    .await
}

/// A job that was created but is not wanted (its model failed meanwhile): abandoned with its id.
pub async fn abandon_created(
    db: &impl GenericClient,
    tag: &str,
    replicate_id: &str,
) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE replicate_attempts SET state = 'abandoned', replicate_id = COALESCE(replicate_id, $2),
                lease_until = NULL, updated_at = now()
         WHERE tag = $1",
        &[text(&tag), text(&replicate_id)],
    )
    .await
}

/// Gives the lease back (a lookup failed): the next delivery takes the attempt over and looks again.
pub async fn release(db: &impl GenericClient, tag: &str) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE replicate_attempts SET lease_until = now(), updated_at = now()
         WHERE tag = $1 AND state = 'starting'",
        &[text(&tag)],
    )
    .await
}

/// Raises the alarm `key` unless it was raised within `period_secs`: true if this call raised it
/// (so exactly one caller tells the admins per period, however many workers see the trouble).
pub async fn raise_alarm(
    db: &impl GenericClient,
    key: &str,
    period_secs: i64,
) -> Result<bool, DbError> {
    returns_row(
        db,
        "INSERT INTO ops_alarms (key, raised_at) VALUES ($1, now())
             ON CONFLICT (key) DO UPDATE SET raised_at = now()
             WHERE ops_alarms.raised_at <= now() - make_interval(secs => $2)
             RETURNING 1",
        &[text(&key), float8(&(period_secs as f64))],
    )
    .await
}

/// Whether the alarm `key` was raised within `period_secs`.
pub async fn alarm_active(
    db: &impl GenericClient,
    key: &str,
    period_secs: i64,
) -> Result<bool, DbError> {
    returns_row(
        db,
        "SELECT 1 FROM ops_alarms WHERE key = $1 AND raised_at > now() - make_interval(secs => $2)",
        &[text(&key), float8(&(period_secs as f64))],
    )
    .await
}

/// What every attempt of a model or generation carried (a training's uploaded zip URL), oldest
/// first: what to delete at Replicate once the job settled.
pub async fn input_refs(
    db: &impl GenericClient,
    kind: Kind,
    subject_id: i64,
) -> Result<Vec<String>, DbError> {
    fetch_values(
        db,
        "SELECT input_ref FROM replicate_attempts
             WHERE kind = $1 AND subject_id = $2 AND input_ref IS NOT NULL ORDER BY id",
        &[text(&kind.as_str()), int8(&subject_id)],
    )
    .await
}
