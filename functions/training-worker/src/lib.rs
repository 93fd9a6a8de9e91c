//! The training worker: an SQS consumer that turns a queued model into a Replicate training, and a
//! scheduled sweep that settles trainings and generations Replicate has not reported on.
//!
//! One Lambda handles both event shapes: SQS batches (`Records`) and EventBridge schedules.

mod housekeeping;
mod sweep;
mod training;

use std::sync::Arc;

use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;
use shared::queue::{Retry, TrainingJob};
use shared::services::{Services, StartupError};
use shared::telemetry::error_chain;
use tracing::Instrument;

pub use housekeeping::{housekeeping, HousekeepingReport};
pub use sweep::{sweep, sweep_within, SweepReport, SWEEP_BATCH, SWEEP_BUDGET};
pub use training::{start_training, WorkerError, JOB_DEADLINE_SECS};

/// Built once per cold start.
#[derive(Clone, Debug)]
pub struct State {
    pub services: Services,
    /// The first retry's delay; each next one is three times longer (see [`backoff`]).
    pub retry_base: Duration,
}

impl State {
    pub async fn from_env() -> Result<Arc<Self>, StartupError> {
        Ok(Self::new(Services::from_env().await?))
    }

    pub fn new(services: Services) -> Arc<Self> {
        Self::with_retry_base(services, Duration::from_secs(10))
    }

    /// With another first retry delay (tests wait less).
    pub fn with_retry_base(services: Services, retry_base: Duration) -> Arc<Self> {
        Arc::new(Self {
            services,
            retry_base,
        })
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

/// How many deliveries a job gets before it is left to the DLQ (the queue's `maxReceiveCount` in
/// template.yaml is the same).
pub const MAX_RECEIVES: u32 = 8;
/// While Replicate refuses our credentials, a job waits this long between tries.
pub const REFUSED_US_DELAY: Duration = Duration::from_secs(15 * 60);

/// The wait before the next try of a job that failed for now, by how many times it was received
/// (1 for the first delivery): `base`, 3 x `base`, 9 x `base`... at most 15 minutes (10 s, 30 s,
/// 90 s, 270 s, 810 s, 900 s with the default base).
pub fn backoff(base: Duration, receive_count: u32) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(10);
    (base * 3u32.pow(exponent)).min(Duration::from_secs(15 * 60))
}

/// Processes each record, each within its own deadline. A job that failed for now is retried soon
/// with a backoff (the message's visibility is changed, then it is reported as a batch item
/// failure, so SQS redelivers only it, and after the queue's max receives moves it to the DLQ).
pub async fn handle_batch(state: &State, batch: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in batch.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("training_job", message_id = %message_id, model_id = tracing::field::Empty);
        if !handle_record(state, &record).instrument(span).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

/// Whether the record is done with (true) or must be reported failed.
async fn handle_record(state: &State, record: &SqsMessage) -> bool {
    let job: TrainingJob = match serde_json::from_str(record.body.as_deref().unwrap_or_default()) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(error = %e, "not a training job; SQS will redeliver it, then the DLQ keeps it");
            return false;
        }
    };
    tracing::Span::current().record("model_id", job.model_id);
    let deadline = Duration::from_secs(training::JOB_DEADLINE_SECS);
    let result =
        match tokio::time::timeout(deadline, start_training(&state.services, job.model_id)).await {
            Ok(result) => result,
            Err(_) => Err(WorkerError::Deadline(training::JOB_DEADLINE_SECS)),
        };
    let Err(e) = result else {
        return true;
    };
    let receive_count = state
        .services
        .queue
        .in_process_receive_count(job.model_id)
        .or_else(|| {
            record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(1);
    let delay = if e.is_refused_us() {
        // Our outage, not the job's: it waits, and the admins hear of it once.
        if let WorkerError::Replicate(refusal) = &e {
            shared::attempts::replicate_refused_us(&state.services, refusal).await;
        }
        REFUSED_US_DELAY
    } else {
        // Throttled: not before Replicate's rate limit resets.
        let asked = e.retry_after().unwrap_or_default().min(REFUSED_US_DELAY);
        backoff(state.retry_base, receive_count).max(asked)
    };
    if receive_count >= MAX_RECEIVES && !e.is_refused_us() {
        tracing::error!(error = %error_chain(&e), receive_count, "training job failed for the last time; it goes to the DLQ");
        return false;
    }
    tracing::warn!(error = %error_chain(&e), receive_count, retry_in = delay.as_secs(), "training job failed for now; retrying later");
    match state
        .services
        .queue
        .retry_later(job, record.receipt_handle.as_deref(), delay)
        .await
    {
        Ok(Retry::Requeued) => true,
        Ok(Retry::ReportFailure) => false,
        Err(queue) => {
            // The visibility timeout still brings it back, only later.
            tracing::error!(error = %error_chain(&queue), "could not schedule the retry");
            false
        }
    }
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
