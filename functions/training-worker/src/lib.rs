//! The training worker: an SQS consumer that turns a queued model into a Replicate training, and a
//! scheduled sweep that settles trainings and generations Replicate has not reported on.
//!
//! One Lambda handles both event shapes: SQS batches (`Records`) and EventBridge schedules.

mod housekeeping;
mod sweep;
mod training;

use std::sync::Arc;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde_json::Value;
use shared::http::error_chain;
use shared::queue::TrainingJob;
use shared::services::{Services, StartupError};
use tracing::Instrument;

pub use housekeeping::{housekeeping, HousekeepingReport};
pub use sweep::{sweep, SweepReport};
pub use training::{start_training, WorkerError};

/// Built once per cold start.
#[derive(Clone, Debug)]
pub struct State {
    pub services: Services,
}

impl State {
    pub async fn from_env() -> Result<Arc<Self>, StartupError> {
        Ok(Arc::new(Self {
            services: Services::from_env().await?,
        }))
    }

    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(Self { services })
    }
}

/// The Lambda entry point: an SQS batch, or a scheduled sweep.
pub async fn handle_event(state: &State, event: Value) -> Result<Value, lambda_runtime::Error> {
    if event.get("Records").is_some() {
        let batch: SqsEvent = serde_json::from_value(event)?;
        let response = handle_batch(state, batch).await;
        return Ok(serde_json::to_value(response)?);
    }
    Ok(serde_json::to_value(scheduled(&state.services).await?)?)
}

/// Processes each record; the ones that failed and may succeed later are reported back, so SQS
/// redelivers only those (and, after the queue's max receives, moves them to the DLQ).
pub async fn handle_batch(state: &State, batch: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in batch.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("training_job", message_id = %message_id, model_id = tracing::field::Empty);
        let result = async {
            let job: TrainingJob = serde_json::from_str(record.body.as_deref().unwrap_or_default())
                .map_err(|e| WorkerError::BadMessage(e.to_string()))?;
            tracing::Span::current().record("model_id", job.model_id);
            start_training(&state.services, job.model_id).await
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = result {
            span.in_scope(|| tracing::error!(error = %error_chain(&e), "training job failed; SQS will redeliver it"));
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// What one scheduled run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ScheduledReport {
    pub sweep: SweepReport,
    pub housekeeping: HousekeepingReport,
}

/// The scheduled run: settle jobs Replicate has not reported on, then execute effects left in the
/// log and prune old dedupe rows. One failing half does not keep the other from running.
pub async fn scheduled(services: &Services) -> Result<ScheduledReport, lambda_runtime::Error> {
    let swept = sweep(services).await;
    let housekept = housekeeping(services).await;
    match (swept, housekept) {
        (Ok(sweep), Ok(housekeeping)) => Ok(ScheduledReport {
            sweep,
            housekeeping,
        }),
        (Err(e), _) => Err(e.into()),
        (_, Err(e)) => Err(e.into()),
    }
}
