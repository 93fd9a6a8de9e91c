//! Settling jobs Replicate has not told us about: asks Replicate for the status of trainings and
//! generations that have had no news for a while, and feeds the answers through the same completion
//! code as the webhook. On one machine (no public URL) this is how results arrive at all; on AWS a
//! schedule runs it so a lost webhook never leaves a job stuck.
//!
//! It is fair and bounded: each checked job moves to the back of the line (so jobs that always fail
//! to check cannot keep the others waiting), failed checks are counted per job, and it gives up
//! (fails and refunds) only on jobs nobody is working on.

use serde::Serialize;
use shared::attempts::{self as settle, Attached};
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::outcomes::{self, Applied, OutcomeError, Subject};
use shared::queue::TrainingJob;
use shared::replicate::{Replicate, ReplicateError};
use shared::repo::attempts::{self, Kind, State as AttemptState};
use shared::repo::generations::{self, Generation};
use shared::repo::models;
use shared::services::Services;
use shared::telemetry::error_chain;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub checked: usize,
    pub settled: usize,
    pub errors: usize,
    /// Queued models whose job was sent again (its first message was lost).
    pub requeued: usize,
    /// Jobs left for the next sweep: this one's time was up.
    pub deferred: usize,
}

/// How many jobs of each kind one sweep looks at.
pub const SWEEP_BATCH: i64 = 50;
/// A queued model whose job has not started after this long is queued again (the worker's attempt
/// makes a duplicate harmless).
const REQUEUE_AFTER_SECONDS: i64 = 10 * 60;
/// A queued model that has not started after this long (many requeues, each redelivered up to the
/// queue's max receives) is failed and refunded, unless an attempt at it is live.
const GIVE_UP_QUEUED_AFTER_SECONDS: i64 = 6 * 60 * 60;
/// A paid generation with no prediction after this long was never started (a start takes seconds)
/// or its start is unconfirmed (then it is looked up first).
const ORPHANED_AFTER_SECONDS: i64 = 10 * 60;
/// A job whose status could not be read this many checks in a row, and that started at least
/// [`GIVE_UP_CHECKS_AFTER_SECONDS`] ago, is given up on (failed and refunded).
pub const MAX_FAILED_CHECKS: i32 = 50;
const GIVE_UP_CHECKS_AFTER_SECONDS: i64 = 24 * 60 * 60;
/// A job Replicate does not know (404) is gone, unless it started moments ago.
const GONE_GRACE_SECONDS: i64 = 60;
/// How long the sweep holds an unconfirmed start it settles by lookup.
const LOOKUP_LEASE_SECONDS: i64 = 60;
/// How long one sweep starts new checks: a check may deliver an album (seconds each), and what
/// does not fit is left for the next run, never cut off half-way by the Lambda's 300 s (an album
/// sent and not recorded would be sent again), with the drain's budget after it.
pub const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(100);

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Outcome(#[from] OutcomeError),
    #[error(transparent)]
    Db(#[from] shared::db::DbError),
    #[error(transparent)]
    Unavailable(#[from] shared::services::Unavailable),
    #[error(transparent)]
    Replicate(#[from] ReplicateError),
}

/// Checks jobs with no news for `JOB_STALE_SECONDS` (default: 20 s without a public URL, where
/// polling is the only way results arrive; 15 minutes with one), within [`SWEEP_BUDGET`].
pub async fn sweep(services: &Services) -> Result<SweepReport, SweepError> {
    sweep_within(services, SWEEP_BUDGET).await
}

/// [`sweep`], starting no check once `budget` has passed (the jobs left stay first in line).
pub async fn sweep_within(
    services: &Services,
    budget: std::time::Duration,
) -> Result<SweepReport, SweepError> {
    let started = std::time::Instant::now();
    let out_of_time = || started.elapsed() > budget;
    let db = services.db();
    let replicate = services.replicate()?;
    let stale_after = services.config.job_stale_seconds();
    let conn = db.conn().await?;
    let trainings =
        models::list_stale(&**conn, ModelStatus::Training, stale_after, SWEEP_BATCH).await?;
    let predictions = generations::list_in_flight(&**conn, stale_after, SWEEP_BATCH).await?;
    let stuck_in_queue =
        models::take_stuck_queued(&**conn, REQUEUE_AFTER_SECONDS, SWEEP_BATCH).await?;
    let orphaned = generations::list_orphaned(&**conn, ORPHANED_AFTER_SECONDS, SWEEP_BATCH).await?;
    let refused_us = attempts::alarm_active(
        &**conn,
        settle::REFUSED_US_ALARM,
        settle::REFUSED_US_ALARM_PERIOD_SECS,
    )
    .await?;
    drop(conn);

    let mut report = SweepReport::default();
    for generation in orphaned {
        if out_of_time() {
            report.deferred += 1;
            continue;
        }
        let id = format!("generation {}", generation.id);
        let result = settle_orphan(services, replicate, generation).await;
        tally(&mut report, result, &id);
    }
    for model in stuck_in_queue {
        let waiting = model
            .queued_at
            .map(|at| (chrono::Utc::now() - at).num_seconds())
            .unwrap_or_default();
        if waiting > GIVE_UP_QUEUED_AFTER_SECONDS && !refused_us {
            // An attempt that may have become a training (live, created, or unconfirmed) is
            // settled by the worker, never given up on here.
            let live = attempts::live(&**db.conn().await?, Kind::Training, model.id).await?;
            if live.is_none() {
                // Its job has failed to start again and again: refunded and told, not queued forever.
                let id = format!("model {}", model.id);
                let result =
                    outcomes::fail_training(services, model, "the training could not be started")
                        .await
                        .map_err(SweepError::from);
                tally(&mut report, result, &id);
                continue;
            }
        }
        match services
            .queue
            .send(TrainingJob { model_id: model.id })
            .await
        {
            Ok(()) => report.requeued += 1,
            Err(e) => {
                report.errors += 1;
                tracing::error!(model_id = model.id, error = %error_chain(&e), "could not queue a stuck model again");
            }
        }
    }
    for model in trainings {
        if out_of_time() {
            report.deferred += 1;
            continue;
        }
        report.checked += 1;
        let id = model.replicate_training_id.clone().unwrap_or_default();
        let result = check_job(services, replicate, Subject::Training(model)).await;
        tally(&mut report, result, &id);
    }
    for generation in predictions {
        if out_of_time() {
            report.deferred += 1;
            continue;
        }
        report.checked += 1;
        let id = generation
            .replicate_prediction_id
            .clone()
            .unwrap_or_default();
        let result = check_job(services, replicate, Subject::Prediction(generation)).await;
        tally(&mut report, result, &id);
    }
    if report.checked > 0 || report.requeued > 0 || report.deferred > 0 {
        tracing::info!(
            checked = report.checked,
            settled = report.settled,
            requeued = report.requeued,
            errors = report.errors,
            deferred = report.deferred,
            "sweep done"
        );
    }
    Ok(report)
}

fn seconds_since(at: Option<chrono::DateTime<chrono::Utc>>) -> i64 {
    at.map(|at| (chrono::Utc::now() - at).num_seconds())
        .unwrap_or(i64::MAX)
}

/// Asks Replicate about a training or a prediction and applies the answer; moves it to the back of
/// the line either way. A job Replicate does not know is gone (failed, refunded once); one whose
/// status cannot be read is given up on only after many checks and long after it started.
async fn check_job(
    services: &Services,
    replicate: &Replicate,
    subject: Subject,
) -> Result<Applied, SweepError> {
    let db = services.db();
    let (id, started, answer, failed_checks) = match &subject {
        Subject::Training(model) => {
            let id = model.replicate_training_id.clone().unwrap_or_default();
            let answer = replicate.get_training(&id).await;
            let failed = answer.as_ref().is_err_and(|e| !e.is_auth());
            let failed_checks = models::mark_checked(&**db.conn().await?, model.id, failed).await?;
            (id, model.training_started_at, answer, failed_checks)
        }
        Subject::Prediction(generation) => {
            let id = generation
                .replicate_prediction_id
                .clone()
                .unwrap_or_default();
            let answer = replicate.get_prediction(&id).await;
            let failed = answer.as_ref().is_err_and(|e| !e.is_auth());
            let failed_checks =
                generations::mark_checked(&**db.conn().await?, generation.id, failed).await?;
            (id, Some(generation.created_at), answer, failed_checks)
        }
    };
    match answer {
        Ok(job) => Ok(outcomes::apply(services, subject, &job).await?),
        Err(e) if e.is_not_found() => {
            if seconds_since(started) < GONE_GRACE_SECONDS {
                return Err(e.into());
            }
            if let Subject::Training(_) = subject {
                tracing::warn!(training_id = %id, "Replicate does not know the training; it failed");
            }
            let why = |job: &str| format!("the {job} is gone at Replicate");
            give_up(services, subject, why).await
        }
        Err(e) => {
            if e.is_auth() {
                settle::replicate_refused_us(services, &e).await;
            } else if failed_checks >= MAX_FAILED_CHECKS
                && seconds_since(started) > GIVE_UP_CHECKS_AFTER_SECONDS
            {
                if let Subject::Training(_) = subject {
                    tracing::error!(training_id = %id, failed_checks, "the training's status cannot be read; given up");
                }
                let why = |job: &str| format!("the {job}'s status could not be read");
                return give_up(services, subject, why).await;
            }
            Err(e.into())
        }
    }
}

/// Fails a job the sweep gave up on (refunded once), with the error `why` gives for its kind
/// ("training" or "generation").
async fn give_up(
    services: &Services,
    subject: Subject,
    why: impl FnOnce(&str) -> String,
) -> Result<Applied, SweepError> {
    Ok(match subject {
        Subject::Training(model) => {
            outcomes::fail_training(services, model, &why("training")).await?
        }
        Subject::Prediction(generation) => {
            let failed = GenerationStatus::Failed;
            outcomes::fail_generation(services, generation, failed, &why("generation")).await?
        }
    })
}

/// A paid generation with no prediction stored: a start that never happened is refunded; an
/// unconfirmed one (its answer lost) is looked up first, and attached if Replicate has it.
async fn settle_orphan(
    services: &Services,
    replicate: &Replicate,
    generation: Generation,
) -> Result<Applied, SweepError> {
    let db = services.db();
    let attempt = attempts::live(&**db.conn().await?, Kind::Prediction, generation.id).await?;
    if let Some(attempt) = attempt {
        if attempt.state == AttemptState::Created {
            let id = attempt.replicate_id.clone().unwrap_or_default();
            return attached(services, &attempt, &id).await;
        }
        if !attempts::take_over(&**db.conn().await?, &attempt.tag, LOOKUP_LEASE_SECONDS).await? {
            // Someone is starting it right now.
            return Ok(Applied::Unchanged);
        }
        match settle::find(replicate, &attempt).await {
            Ok(Some(job)) => return attached(services, &attempt, &job.id).await,
            Ok(None) => {
                attempts::abandon(&**db.conn().await?, &attempt.tag).await?;
            }
            Err(e) => {
                attempts::release(&**db.conn().await?, &attempt.tag).await?;
                return Err(e.into());
            }
        }
    }
    Ok(outcomes::fail_generation(
        services,
        generation,
        GenerationStatus::Failed,
        "the generation could not be started",
    )
    .await?)
}

async fn attached(
    services: &Services,
    attempt: &attempts::Attempt,
    replicate_id: &str,
) -> Result<Applied, SweepError> {
    match settle::attach(services, attempt, replicate_id).await? {
        Attached::Started => Ok(Applied::Advanced),
        Attached::Already | Attached::Unwanted => Ok(Applied::Unchanged),
    }
}

fn tally(report: &mut SweepReport, result: Result<Applied, SweepError>, replicate_id: &str) {
    match result {
        Ok(Applied::Advanced) => report.settled += 1,
        Ok(Applied::Unchanged) => {}
        Err(e) => {
            // One job's trouble must not stop the others; the next sweep tries it again.
            report.errors += 1;
            tracing::error!(replicate_id, error = %error_chain(&e), "could not settle a job");
        }
    }
}
