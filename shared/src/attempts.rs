//! Settling an attempt at a remote job (see [`crate::repo::attempts`]): the worker, the generation
//! service, the webhook and the sweep all attach a found (or just created) Replicate job to its model
//! or generation here, in one transaction with the attempt, and cancel jobs nobody wants any more.

use crate::metrics;
use serde_json::json;
use url::Url;

use crate::db::{DbError, GenericClient};
use crate::effects::{AdminNotice, Effect, Written};
use crate::replicate::{Replicate, ReplicateError};
use crate::repo::attempts::{self, Attempt, Kind};
use crate::repo::events::{self, Event};
use crate::repo::{generations, models};
use crate::services::Services;

/// What attaching a Replicate job to its attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    /// The model is now `training` (the generation `starting`) with this job.
    Started,
    /// It already had this job (a repeated report): nothing changed.
    Already,
    /// The attempt was abandoned, or its model or generation moved on (failed, canceled): the job
    /// is not wanted and should be canceled at Replicate.
    Unwanted,
}

/// Our webhook URL for an attempt: `<PUBLIC_URL>/replicate/webhook?attempt=<tag>` (none without a
/// public URL: then results are polled, and the attempt is found by its input).
pub fn webhook_url(services: &Services, tag: &str) -> Option<Url> {
    let mut url = services.config.public_endpoint("/replicate/webhook")?;
    url.query_pairs_mut().append_pair("attempt", tag);
    Some(url)
}

/// Attaches Replicate's job `replicate_id` to the attempt and its subject, in one transaction:
/// attempt → `created`, model → `training` (generation → `starting`). Idempotent. A job nobody
/// wants is canceled at Replicate through the effect log, written in that transaction (a cancel
/// Replicate fails is retried by the sweep, not lost with the attempt), and tried at once.
pub async fn attach(
    services: &Services,
    attempt: &Attempt,
    replicate_id: &str,
) -> Result<Attached, DbError> {
    let mut conn = services.db().conn().await?;
    // The usual case, a new prediction for a pending generation, is one statement.
    if attempt.kind == Kind::Prediction
        && attempts::attach_prediction(&**conn, &attempt.tag, replicate_id).await?
    {
        metrics::generation(metrics::Generation::Started);
        return Ok(Attached::Started);
    }
    let tx = conn.transaction().await?;
    let attached = if attempts::mark_created(&*tx, &attempt.tag, replicate_id).await? {
        attach_subject(&*tx, attempt, replicate_id).await?
    } else {
        // Abandoned (or another job's): this one must not run for it.
        Attached::Unwanted
    };
    let mut written = Written::new();
    if attached == Attached::Unwanted {
        tracing::warn!(
            replicate_id,
            kind = attempt.kind.as_str(),
            "a job nobody wants: canceled"
        );
        let (key, cancel) = match attempt.kind {
            Kind::Training => crate::effects::cancel_training(replicate_id.to_owned()),
            Kind::Prediction => crate::effects::cancel_prediction(replicate_id.to_owned()),
        };
        written.write(&*tx, &key, &cancel).await?;
    }
    tx.commit().await?;
    drop(conn);
    match attached {
        Attached::Started => match attempt.kind {
            Kind::Training => metrics::training(metrics::Training::Started),
            Kind::Prediction => metrics::generation(metrics::Generation::Started),
        },
        Attached::Unwanted => Box::pin(crate::dispatch::now(services, written)).await,
        Attached::Already => {}
    }
    Ok(attached)
}

/// The model (generation) of an attempt just marked created takes its job, in the caller's
/// transaction; one that moved on meanwhile leaves the attempt abandoned and the job unwanted.
async fn attach_subject(
    tx: &impl GenericClient,
    attempt: &Attempt,
    replicate_id: &str,
) -> Result<Attached, DbError> {
    let attached = match attempt.kind {
        Kind::Training => {
            let destination = attempt.destination.as_deref().unwrap_or_default();
            if models::start_training(tx, attempt.subject_id, replicate_id, destination).await? {
                if let Some(model) = models::get(tx, attempt.subject_id).await? {
                    events::record(
                        tx,
                        model.user_id,
                        Event::TrainingStarted,
                        json!({"model_id": model.id, "training_id": replicate_id}),
                    )
                    .await?;
                }
                Attached::Started
            } else {
                let model = models::get(tx, attempt.subject_id).await?;
                if model.and_then(|m| m.replicate_training_id).as_deref() == Some(replicate_id) {
                    Attached::Already
                } else {
                    Attached::Unwanted
                }
            }
        }
        Kind::Prediction => {
            if generations::set_prediction(tx, attempt.subject_id, replicate_id).await? {
                Attached::Started
            } else {
                let generation = generations::get(tx, attempt.subject_id).await?;
                if generation
                    .and_then(|g| g.replicate_prediction_id)
                    .as_deref()
                    == Some(replicate_id)
                {
                    Attached::Already
                } else {
                    Attached::Unwanted
                }
            }
        }
    };
    if attached == Attached::Unwanted {
        attempts::abandon_created(tx, &attempt.tag, replicate_id).await?;
    }
    Ok(attached)
}

/// Finds an attempt's job at Replicate (by its tag or its input's unique value).
pub async fn find(
    replicate: &Replicate,
    attempt: &Attempt,
) -> Result<Option<crate::replicate::Job>, ReplicateError> {
    match attempt.kind {
        Kind::Training => {
            replicate
                .find_training(&attempt.tag, attempt.input_ref.as_deref())
                .await
        }
        Kind::Prediction => {
            replicate
                .find_prediction(&attempt.tag, attempt.input_ref.as_deref())
                .await
        }
    }
}

/// The alarm raised when Replicate refuses our own token, told to the admins at most this often.
pub const REFUSED_US_ALARM: &str = "replicate_refused_us";
pub const REFUSED_US_ALARM_PERIOD_SECS: i64 = 6 * 60 * 60;

/// Replicate refused our credentials (401/403): jobs wait instead of failing, and the admins are
/// told once per period however many jobs and workers run into it (deduplicated in the database).
pub async fn replicate_refused_us(services: &Services, error: &ReplicateError) {
    metrics::remote_error(metrics::Remote::Replicate, metrics::ErrorKind::Auth);
    let db = services.db();
    // The alarm row and the notice to the admins commit together: raised once, told once.
    let raised = async {
        let mut conn = db.conn().await?;
        let tx = conn.transaction().await?;
        let mut written = Written::new();
        if attempts::raise_alarm(&*tx, REFUSED_US_ALARM, REFUSED_US_ALARM_PERIOD_SECS).await? {
            let period = chrono::Utc::now().timestamp() / REFUSED_US_ALARM_PERIOD_SECS;
            written
                .write(
                    &*tx,
                    &format!("alarm:{REFUSED_US_ALARM}:{period}"),
                    &Effect::TellAdmins {
                        notice: AdminNotice::ReplicateRefusedUs {
                            error: error.to_string(),
                        },
                    },
                )
                .await?;
        }
        tx.commit().await?;
        Ok::<_, DbError>(written)
    }
    .await;
    match raised {
        Ok(written) => crate::dispatch::now(services, written).await,
        Err(e) => {
            tracing::error!(error = %crate::telemetry::error_chain(&e), "could not record the Replicate credentials alarm")
        }
    }
}
