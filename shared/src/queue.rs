//! The training queue: `{model_id}` jobs for the training worker.
//!
//! On AWS it is SQS (`TRAINING_QUEUE_URL`; the SDK's endpoint override, `AWS_ENDPOINT_URL_SQS`, points
//! it at a local SQS-compatible server). On one machine an in-process channel stands in, drained by
//! `dream-photo serve` into the same worker handler.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, OnceCell};

/// The message body of a training job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingJob {
    pub model_id: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the training queue is not configured: set TRAINING_QUEUE_URL")]
    NotConfigured,
    #[error("sending the training job to SQS failed: {0}")]
    Sqs(String),
    #[error("the in-process training queue is closed")]
    Closed,
}

#[derive(Clone, Debug)]
pub enum TrainingQueue {
    Sqs {
        /// Made on the first send: loading the AWS configuration (credential chain, region) costs
        /// a cold start several milliseconds, and most invocations never queue a training.
        client: Arc<OnceCell<aws_sdk_sqs::Client>>,
        queue_url: String,
    },
    InProcess {
        tx: mpsc::UnboundedSender<TrainingJob>,
        /// How many times each model's job was requeued by [`TrainingQueue::retry_later`] since it
        /// was last sent: what SQS counts as `ApproximateReceiveCount`.
        requeues: Arc<Mutex<HashMap<i64, u32>>>,
    },
    /// No queue: sending fails with [`QueueError::NotConfigured`] (and nothing is debited before it).
    Disabled,
}

impl TrainingQueue {
    /// SQS with the default AWS configuration (region, credentials, endpoint overrides from the env).
    pub fn sqs(queue_url: String) -> Self {
        Self::Sqs {
            client: Arc::new(OnceCell::new()),
            queue_url,
        }
    }

    /// An in-process queue and its receiving end.
    pub fn in_process() -> (Self, mpsc::UnboundedReceiver<TrainingJob>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self::InProcess {
                tx,
                requeues: Default::default(),
            },
            rx,
        )
    }

    /// Fails with [`QueueError::NotConfigured`] when there is no queue at all.
    pub fn check_configured(&self) -> Result<(), QueueError> {
        match self {
            Self::Disabled => Err(QueueError::NotConfigured),
            _ => Ok(()),
        }
    }

    pub async fn send(&self, job: TrainingJob) -> Result<(), QueueError> {
        match self {
            Self::Sqs { client, queue_url } => {
                let client = sqs_client(client).await;
                let body = serde_json::to_string(&job).expect("a job serialises");
                client
                    .send_message()
                    .queue_url(queue_url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                    })?;
                Ok(())
            }
            Self::InProcess { tx, requeues } => {
                requeues.lock().expect("requeues").remove(&job.model_id);
                tx.send(job).map_err(|_| QueueError::Closed)
            }
            Self::Disabled => Err(QueueError::NotConfigured),
        }
    }

    /// Has a job that failed for now delivered again after `delay`, instead of when the queue's
    /// visibility timeout runs out. On SQS the message (by its receipt handle) becomes visible again
    /// after `delay`, and the caller reports it as a batch item failure
    /// ([`Retry::ReportFailure`]); the queue's max receives still sends it to the DLQ in the end. In
    /// process the job is sent again after `delay` ([`Retry::Requeued`]: the delivery is done).
    pub async fn retry_later(
        &self,
        job: TrainingJob,
        receipt_handle: Option<&str>,
        delay: Duration,
    ) -> Result<Retry, QueueError> {
        match self {
            Self::Sqs { client, queue_url } => {
                let Some(receipt_handle) = receipt_handle else {
                    return Ok(Retry::ReportFailure);
                };
                // SQS allows at most 12 hours.
                let seconds = delay.as_secs().min(12 * 60 * 60) as i32;
                sqs_client(client)
                    .await
                    .change_message_visibility()
                    .queue_url(queue_url)
                    .receipt_handle(receipt_handle)
                    .visibility_timeout(seconds)
                    .send()
                    .await
                    .map_err(|e| {
                        QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                    })?;
                Ok(Retry::ReportFailure)
            }
            Self::InProcess { tx, requeues } => {
                *requeues
                    .lock()
                    .expect("requeues")
                    .entry(job.model_id)
                    .or_default() += 1;
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(job);
                });
                Ok(Retry::Requeued)
            }
            Self::Disabled => Ok(Retry::ReportFailure),
        }
    }

    /// In process: how many times this model's job has been received since it was sent (1 for the
    /// first delivery), as SQS's `ApproximateReceiveCount` says it. `None` on SQS (read the record).
    pub fn in_process_receive_count(&self, model_id: i64) -> Option<u32> {
        match self {
            Self::InProcess { requeues, .. } => Some(
                1 + requeues
                    .lock()
                    .expect("requeues")
                    .get(&model_id)
                    .copied()
                    .unwrap_or_default(),
            ),
            _ => None,
        }
    }
}

/// What [`TrainingQueue::retry_later`] arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The delivery must be reported failed (SQS makes it visible again after the delay).
    ReportFailure,
    /// The job was sent again for later: this delivery is done.
    Requeued,
}

async fn sqs_client(client: &OnceCell<aws_sdk_sqs::Client>) -> &aws_sdk_sqs::Client {
    client
        .get_or_init(|| async {
            let config = crate::aws::sdk_config(None).await;
            aws_sdk_sqs::Client::new(&config)
        })
        .await
}
