//! What happens when Replicate reports on a training or a prediction, whether the report came by
//! webhook or by polling: the status change and its effects ([`crate::transitions`]), then those
//! effects executed at once ([`crate::dispatch`]; the sweep retries what fails).
//!
//! Each step is guarded by the status transition itself (an UPDATE that only moves forward), and
//! each effect by its dedupe key, so a report delivered twice, or by webhook and poller at once, has
//! its effects once.

use crate::dispatch;
use crate::domain::progress::{self, Tracked};
use crate::domain::status::{GenerationStatus, ReplicateStatus};
use crate::metrics;
use crate::replicate::Job;
use crate::repo::costs::{self, CostKind, JobCost, UsdRates};
use crate::repo::deliveries::{self, Claim, Delivery};
use crate::repo::generations::{self, Generation};
use crate::repo::models::{self, Model};
use crate::services::Services;
use crate::transitions::{self, TransitionError};

/// Applying a report fails as its transition does: in the database, or in the refund.
pub type OutcomeError = TransitionError;

/// What a report was about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Training(Model),
    Prediction(Generation),
}

/// Finds what a Replicate id belongs to: ours only, found by the id we stored when we created it,
/// or, when that is not stored yet (Replicate called back before the worker recorded its answer, or
/// the answer was lost), through the attempt tagged in the webhook URL: the job is attached to its
/// model or generation at once. A job of an abandoned attempt is canceled and is nobody's.
pub async fn find_subject(
    services: &Services,
    replicate_id: &str,
    attempt: Option<&str>,
) -> Result<Option<Subject>, OutcomeError> {
    let conn = services.db().conn().await?;
    // Both looked for in one round trip.
    let (model, generation) = tokio::join!(
        models::find_by_training_id(&**conn, replicate_id),
        generations::find_by_prediction_id(&**conn, replicate_id),
    );
    drop(conn);
    found(services, replicate_id, attempt, model?, generation?).await
}

/// What the lookups by the stored ids found, or else what the attempt's tag leads to.
async fn found(
    services: &Services,
    replicate_id: &str,
    attempt: Option<&str>,
    model: Option<Model>,
    generation: Option<Generation>,
) -> Result<Option<Subject>, OutcomeError> {
    if let Some(model) = model {
        return Ok(Some(Subject::Training(model)));
    }
    if let Some(generation) = generation {
        return Ok(Some(Subject::Prediction(generation)));
    }
    match attempt {
        Some(tag) => find_by_attempt(services, replicate_id, tag).await,
        None => Ok(None),
    }
}

/// What claiming a final report found ([`claim_and_find`]).
#[derive(Debug)]
pub enum Claimed {
    /// Ours to handle, about this: the claim is held, for [`crate::once::handle_claimed`].
    Subject(Box<Subject>),
    /// A job we do not know: no claim is kept (as if it never came).
    Unknown,
    /// Handled already.
    Duplicate,
    /// Being handled by another invocation now: the sender must come back.
    InProgress,
}

/// [`find_subject`] for a final report, with its `delivery` claimed in the same round trip (the
/// claim needs only the ids in the report). The attempt's tag is followed only for a claim that is
/// ours; a claimed report of nobody's job gives its claim back.
pub async fn claim_and_find(
    services: &Services,
    delivery: Delivery<'_>,
    replicate_id: &str,
    attempt: Option<&str>,
) -> Result<Claimed, OutcomeError> {
    let db = services.db();
    let conn = db.conn().await?;
    let (claim, model, generation) = tokio::join!(
        deliveries::claim(&**conn, delivery),
        models::find_by_training_id(&**conn, replicate_id),
        generations::find_by_prediction_id(&**conn, replicate_id),
    );
    drop(conn);
    match claim? {
        Claim::Claimed => {}
        Claim::Duplicate => return Ok(Claimed::Duplicate),
        Claim::InProgress => return Ok(Claimed::InProgress),
    }
    let subject = match (model, generation) {
        (Ok(model), Ok(generation)) => {
            found(services, replicate_id, attempt, model, generation).await
        }
        (Err(e), _) | (_, Err(e)) => Err(e.into()),
    };
    match subject {
        Ok(Some(subject)) => Ok(Claimed::Subject(Box::new(subject))),
        Ok(None) => {
            deliveries::release(&**db.conn().await?, delivery).await?;
            Ok(Claimed::Unknown)
        }
        Err(e) => {
            // The sender delivers it again: it must find the claim given back, not in progress
            // (if this fails too, the claim's lease runs out).
            if let Ok(conn) = db.conn().await {
                let _ = deliveries::release(&**conn, delivery).await;
            }
            Err(e)
        }
    }
}

async fn find_by_attempt(
    services: &Services,
    replicate_id: &str,
    tag: &str,
) -> Result<Option<Subject>, OutcomeError> {
    use crate::attempts::{self as settle, Attached};
    use crate::repo::attempts::{self, Kind};
    let db = services.db();
    let Some(attempt) = attempts::by_tag(&**db.conn().await?, tag).await? else {
        return Ok(None);
    };
    if settle::attach(services, &attempt, replicate_id).await? == Attached::Unwanted {
        return Ok(None);
    }
    let conn = db.conn().await?;
    Ok(match attempt.kind {
        Kind::Training => models::get(&**conn, attempt.subject_id)
            .await?
            .map(Subject::Training),
        Kind::Prediction => generations::get(&**conn, attempt.subject_id)
            .await?
            .map(Subject::Prediction),
    })
}

/// Whether the report changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Advanced,
    Unchanged,
}

pub async fn apply(
    services: &Services,
    subject: Subject,
    job: &Job,
) -> Result<Applied, OutcomeError> {
    Ok(apply_delivered(services, subject, job, None).await?.applied)
}

/// What [`apply_delivered`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    pub applied: Applied,
    /// The delivery it was given is recorded done, in the transaction that made the report's work
    /// durable (nothing is left for its claim's holder to record).
    pub finished: bool,
}

/// [`apply`] for a report claimed as `delivery` ([`claim_and_find`]): the results of a succeeded
/// prediction finish it in their own transaction, since the album is in the effect log once that
/// committed (the rest of its delivery is the effect's, which the sweep retries). Any other report
/// leaves the claim to its holder.
pub async fn apply_delivered(
    services: &Services,
    subject: Subject,
    job: &Job,
    delivery: Option<Delivery<'_>>,
) -> Result<Reported, OutcomeError> {
    let cost = job_cost(services, &subject, job);
    let rates = UsdRates::new(&services.config.costs.usd_rates);
    match subject {
        Subject::Prediction(generation)
            if job.status == ReplicateStatus::Succeeded && !job.output_urls().is_empty() =>
        {
            // The cost is recorded with the results, in their transaction.
            let (margin, moved) = transitions::results_arrived(
                services.db(),
                generation.id,
                &job.output_urls(),
                cost.as_ref().map(|cost| (cost, &rates)),
                delivery,
            )
            .await?;
            if let (Some(margin), Some(cost)) = (margin, &cost) {
                metrics::job_cost(cost.seconds * cost.usd_per_second, margin);
            }
            // Only results that arrived committed the delivery's end with them.
            let finished = delivery.is_some() && moved.is_some();
            let applied = delivered(services, moved).await;
            Ok(Reported { applied, finished })
        }
        subject => {
            if let Some(cost) = &cost {
                let recorded = costs::record(&**services.db().conn().await?, cost, &rates).await?;
                if let Some(margin) = recorded {
                    metrics::job_cost(cost.seconds * cost.usd_per_second, margin);
                }
            }
            let applied = match subject {
                Subject::Training(model) => apply_training(services, model, job).await,
                Subject::Prediction(generation) => {
                    apply_prediction(services, generation, job).await
                }
            }?;
            Ok(Reported {
                applied,
                finished: false,
            })
        }
    }
}

/// A finished job's run time is what Replicate bills us for: recorded once, at the price of the
/// hardware it ran on, and today's margin with it goes out as a metric (its alarm fires on a day
/// that loses money). Recorded before the status changes (or with it), so a failure here has the
/// report delivered again, and the record is there whatever the transition does.
fn job_cost<'a>(services: &'a Services, subject: &Subject, job: &'a Job) -> Option<JobCost<'a>> {
    let seconds = job.metrics.as_ref().and_then(|m| m.predict_time)?;
    if !job.status.is_final() {
        return None;
    }
    let config = &services.config;
    let (kind, user_id, model_id, generation_id, hardware) = match subject {
        Subject::Training(model) => (
            CostKind::Training,
            model.user_id,
            Some(model.id),
            None,
            &config.costs.training_hardware,
        ),
        Subject::Prediction(generation) => (
            CostKind::Generation,
            generation.user_id,
            generation.model_id,
            Some(generation.id),
            &config.training.hardware,
        ),
    };
    Some(JobCost {
        replicate_id: &job.id,
        user_id,
        kind,
        model_id,
        generation_id,
        hardware,
        seconds: seconds.max(0.0),
        // Configuration refuses to start with either hardware unpriced.
        usd_per_second: config.costs.price_per_second(hardware).unwrap_or_default(),
    })
}

async fn apply_training(
    services: &Services,
    model: Model,
    job: &Job,
) -> Result<Applied, OutcomeError> {
    let db = services.db();
    match job.status {
        ReplicateStatus::Starting | ReplicateStatus::Processing => {
            models::touch(&**db.conn().await?, model.id).await?;
            let job_progress = Tracked::Training { model_id: model.id };
            report_progress(services, job_progress, job).await?;
            Ok(Applied::Unchanged)
        }
        ReplicateStatus::Succeeded => match job.training_output() {
            Some((version, weights)) => {
                let seconds = job.metrics.as_ref().and_then(|m| m.predict_time);
                let moved =
                    transitions::model_ready(db, model.id, &version, weights.as_deref(), seconds)
                        .await?;
                Ok(dispatched(services, moved).await)
            }
            None => {
                fail_training(
                    services,
                    model,
                    "the training finished without a model version",
                )
                .await
            }
        },
        ReplicateStatus::Failed | ReplicateStatus::Canceled | ReplicateStatus::Aborted => {
            let error = job
                .error_text()
                .unwrap_or_else(|| format!("the training was {:?}", job.status).to_lowercase());
            fail_training(services, model, &error).await
        }
    }
}

/// A report of a job still running: the progress its logs show, if any, goes to its status message
/// (throttled; see [`transitions::progress_reported`]).
async fn report_progress(
    services: &Services,
    tracked: Tracked,
    job: &Job,
) -> Result<(), OutcomeError> {
    let Some(progress) = job.logs.as_deref().and_then(progress::from_logs) else {
        return Ok(());
    };
    let moved = transitions::progress_reported(services.db(), tracked, &progress).await?;
    dispatched(services, moved).await;
    Ok(())
}

/// Delivers the album of results that arrived, and says whether they did.
async fn delivered(services: &Services, moved: Option<transitions::Arrived>) -> Applied {
    match moved {
        Some(arrived) => {
            dispatch::deliver(services, arrived).await;
            Applied::Advanced
        }
        None => Applied::Unchanged,
    }
}

/// Executes the effects of a change that moved, and says whether it did.
async fn dispatched(services: &Services, moved: Option<crate::effects::Written>) -> Applied {
    match moved {
        Some(written) => {
            dispatch::now(services, written).await;
            Applied::Advanced
        }
        None => Applied::Unchanged,
    }
}

/// Marks a model failed and refunds its cost, once; then tells the user and the admins.
pub async fn fail_training(
    services: &Services,
    model: Model,
    error: &str,
) -> Result<Applied, OutcomeError> {
    let moved = transitions::fail_training(services.db(), &model, error).await?;
    Ok(dispatched(services, moved).await)
}

async fn apply_prediction(
    services: &Services,
    generation: Generation,
    job: &Job,
) -> Result<Applied, OutcomeError> {
    let db = services.db();
    match job.status {
        ReplicateStatus::Starting | ReplicateStatus::Processing => {
            let moved = generations::advance(
                &**db.conn().await?,
                generation.id,
                job.status.generation_status(),
                None,
                None,
            )
            .await?;
            let job_progress = Tracked::Generation {
                generation_id: generation.id,
            };
            report_progress(services, job_progress, job).await?;
            Ok(if moved.is_some() {
                Applied::Advanced
            } else {
                Applied::Unchanged
            })
        }
        ReplicateStatus::Succeeded => {
            let urls = job.output_urls();
            if urls.is_empty() {
                return fail_generation(
                    services,
                    generation,
                    GenerationStatus::Failed,
                    "no images in the output",
                )
                .await;
            }
            let (_, moved) =
                transitions::results_arrived(db, generation.id, &urls, None, None).await?;
            Ok(delivered(services, moved).await)
        }
        ReplicateStatus::Failed | ReplicateStatus::Canceled | ReplicateStatus::Aborted => {
            let error = job
                .error_text()
                .unwrap_or_else(|| format!("the generation was {:?}", job.status).to_lowercase());
            fail_generation(services, generation, job.status.generation_status(), &error).await
        }
    }
}

/// Marks a generation failed (or canceled) and refunds it, once; tells the user and the admins.
pub async fn fail_generation(
    services: &Services,
    generation: Generation,
    status: GenerationStatus,
    error: &str,
) -> Result<Applied, OutcomeError> {
    let moved = transitions::fail_generation(services.db(), &generation, status, error).await?;
    Ok(dispatched(services, moved).await)
}
