//! Settling jobs Replicate has not told us about: asks Replicate for the status of trainings and
//! generations that have had no news for a while, and feeds the answers through the same completion
//! code as the webhook. On one machine (no public URL) this is how results arrive at all; on AWS a
//! schedule runs it so a lost webhook never leaves a job stuck.

use serde::Serialize;
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::http::error_chain;
use shared::outcomes::{self, Applied, OutcomeError, Subject};
use shared::queue::TrainingJob;
use shared::replicate::ReplicateError;
use shared::repo::{generations, models};
use shared::services::Services;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub checked: usize,
    pub settled: usize,
    pub errors: usize,
    /// Queued models whose job was sent again (its first message was lost).
    pub requeued: usize,
}

/// A queued model whose job has not started after this long is queued again (the worker's row lock
/// makes a duplicate harmless).
const REQUEUE_AFTER_SECONDS: i64 = 10 * 60;
/// A queued model that has not started after this long (many requeues, each redelivered up to the
/// queue's max receives) is failed and refunded.
const GIVE_UP_QUEUED_AFTER_SECONDS: i64 = 6 * 60 * 60;
/// A paid generation with no prediction after this long was never started (a start takes seconds).
const ORPHANED_AFTER_SECONDS: i64 = 10 * 60;

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
/// polling is the only way results arrive; 15 minutes with one).
pub async fn sweep(services: &Services) -> Result<SweepReport, SweepError> {
    let db = services.db()?;
    let replicate = services.replicate()?;
    let stale_after = services.config.job_stale_seconds();
    let conn = db.conn().await?;
    let trainings = models::list_stale(&**conn, ModelStatus::Training, stale_after, 50).await?;
    let predictions = generations::list_in_flight(&**conn, stale_after, 50).await?;
    let stuck_in_queue = models::take_stuck_queued(&**conn, REQUEUE_AFTER_SECONDS, 50).await?;
    let orphaned = generations::list_orphaned(&**conn, ORPHANED_AFTER_SECONDS, 50).await?;
    drop(conn);

    let mut report = SweepReport::default();
    for generation in orphaned {
        let result = outcomes::fail_generation(
            services,
            generation,
            GenerationStatus::Failed,
            "the generation could not be started",
        )
        .await
        .map_err(SweepError::from);
        tally(&mut report, result, "(never started)");
    }
    for model in stuck_in_queue {
        let waiting = model
            .queued_at
            .map(|at| (chrono::Utc::now() - at).num_seconds())
            .unwrap_or_default();
        if waiting > GIVE_UP_QUEUED_AFTER_SECONDS {
            // Its job has failed to start again and again: refunded and told, not queued forever.
            let id = format!("model {}", model.id);
            let result =
                outcomes::fail_training(services, model, "the training could not be started")
                    .await
                    .map_err(SweepError::from);
            tally(&mut report, result, &id);
            continue;
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
        report.checked += 1;
        let id = model.replicate_training_id.clone().unwrap_or_default();
        let result = match replicate.get_training(&id).await {
            Ok(job) => outcomes::apply(services, Subject::Training(model), &job)
                .await
                .map_err(SweepError::from),
            Err(e) => Err(e.into()),
        };
        tally(&mut report, result, &id);
    }
    for generation in predictions {
        report.checked += 1;
        let id = generation
            .replicate_prediction_id
            .clone()
            .unwrap_or_default();
        let result = match replicate.get_prediction(&id).await {
            Ok(job) => outcomes::apply(services, Subject::Prediction(generation), &job)
                .await
                .map_err(SweepError::from),
            Err(e) => Err(e.into()),
        };
        tally(&mut report, result, &id);
    }
    if report.checked > 0 || report.requeued > 0 {
        tracing::info!(
            checked = report.checked,
            settled = report.settled,
            requeued = report.requeued,
            errors = report.errors,
            "sweep done"
        );
    }
    Ok(report)
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
