//! Status messages of jobs in progress (`job_progress`): one row per training or generation, the
//! message it is shown in, the progress last shown, and when it was last edited.

use chrono::{DateTime, Utc};

use super::{fetch_opt, fetch_value_opt, float8, int2, int4, int8, text, DbError, GenericClient};
use crate::domain::progress::{Progress, Tracked};

#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    pub user_id: i64,
    pub message_id: Option<i64>,
    pub percent: Option<i16>,
    pub step: Option<i32>,
    pub total: Option<i32>,
    pub eta_seconds: Option<i32>,
    pub edits: i32,
    pub edited_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl JobProgress {
    /// What was last reported, if anything.
    pub fn progress(&self) -> Option<Progress> {
        Some(Progress {
            percent: self.percent?,
            steps: self.step.zip(self.total),
            eta_seconds: self.eta_seconds,
        })
    }
}

const COLUMNS: &str =
    "user_id, message_id, percent, step, total, eta_seconds, edits, edited_at, settled_at";

from_row!(JobProgress, |row| {
    user_id, message_id, percent, step, total, eta_seconds, edits, edited_at, settled_at,
});

/// Starts tracking a job of `user_id` (in the transaction that creates it).
pub async fn start(db: &impl GenericClient, job: Tracked, user_id: i64) -> Result<(), DbError> {
    super::execute(
        db,
        "INSERT INTO job_progress (kind, subject_id, user_id) VALUES ($1, $2, $3)
         ON CONFLICT (kind, subject_id) DO NOTHING",
        &[text(&job.kind()), int8(&job.subject_id()), int8(&user_id)],
    )
    .await
}

pub async fn get(db: &impl GenericClient, job: Tracked) -> Result<Option<JobProgress>, DbError> {
    fetch_opt(
        db,
        &format!("SELECT {COLUMNS} FROM job_progress WHERE kind = $1 AND subject_id = $2"),
        &[text(&job.kind()), int8(&job.subject_id())],
    )
    .await
}

/// Records `progress` if the job is not settled, its last edit is at least `interval_secs` old, and
/// it does not go back: one statement, so of concurrent reports one wins and the others wait for it
/// and then find the edit too recent. Returns the number of this edit (for its dedupe key), or
/// `None` when nothing is to be edited now.
pub async fn record(
    db: &impl GenericClient,
    job: Tracked,
    progress: &Progress,
    interval_secs: f64,
) -> Result<Option<i32>, DbError> {
    let (step, total) = progress.steps.unzip();
    fetch_value_opt(
        db,
        "UPDATE job_progress SET percent = $3, step = $4, total = $5, eta_seconds = $6,
             edits = edits + 1, edited_at = now()
         WHERE kind = $1 AND subject_id = $2 AND settled_at IS NULL
           AND (edited_at IS NULL OR edited_at <= now() - make_interval(secs => $7))
           AND (percent IS NULL OR percent <= $3)
         RETURNING edits",
        &[
            text(&job.kind()),
            int8(&job.subject_id()),
            int2(&progress.percent),
            int4(&step),
            int4(&total),
            int4(&progress.eta_seconds),
            float8(&interval_secs),
        ],
    )
    .await
}

/// Keeps the status message sent for a job, unless the job settled meanwhile or one is kept already
/// (`false`: the caller deletes the one it sent).
pub async fn set_message(
    db: &impl GenericClient,
    job: Tracked,
    message_id: i64,
) -> Result<bool, DbError> {
    super::changed_one(
        db,
        "UPDATE job_progress SET message_id = $3
         WHERE kind = $1 AND subject_id = $2 AND settled_at IS NULL AND message_id IS NULL",
        &[
            text(&job.kind()),
            int8(&job.subject_id()),
            int8(&message_id),
        ],
    )
    .await
}

/// The status message is gone (its owner deleted it, or it can no longer be edited): edits stop.
pub async fn forget_message(
    db: &impl GenericClient,
    job: Tracked,
    message_id: i64,
) -> Result<(), DbError> {
    super::execute(
        db,
        "UPDATE job_progress SET message_id = NULL
         WHERE kind = $1 AND subject_id = $2 AND message_id = $3",
        &[
            text(&job.kind()),
            int8(&job.subject_id()),
            int8(&message_id),
        ],
    )
    .await
}

/// Settles every job of `user_id` still tracked (their data is erased: nothing will report on
/// them again); returns them, for their status messages to go.
pub async fn settle_all_of(db: &impl GenericClient, user_id: i64) -> Result<Vec<Tracked>, DbError> {
    let rows = db
        .query_typed(
            "UPDATE job_progress SET settled_at = now()
             WHERE user_id = $1 AND settled_at IS NULL
             RETURNING kind, subject_id",
            &[int8(&user_id)],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| Tracked::parse(row.get("kind"), row.get("subject_id")))
        .collect())
}

/// The job finished (in the transaction that finishes it): no more edits. `true` when it was being
/// tracked and was not settled before.
pub async fn settle(db: &impl GenericClient, job: Tracked) -> Result<bool, DbError> {
    super::changed_one(
        db,
        "UPDATE job_progress SET settled_at = now()
         WHERE kind = $1 AND subject_id = $2 AND settled_at IS NULL",
        &[text(&job.kind()), int8(&job.subject_id())],
    )
    .await
}
