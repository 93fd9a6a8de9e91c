//! The training queue: `{model_id}` jobs for the training worker.
//!
//! On AWS it is SQS (`TRAINING_QUEUE_URL`; the SDK's endpoint override, `AWS_ENDPOINT_URL_SQS`, points
//! it at a local SQS-compatible server). On one machine an in-process channel stands in, drained by
//! `dream-photo serve` into the same worker handler.

use std::sync::Arc;

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
    InProcess(mpsc::UnboundedSender<TrainingJob>),
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
        (Self::InProcess(tx), rx)
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
                let client = client
                    .get_or_init(|| async {
                        let config =
                            aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                        aws_sdk_sqs::Client::new(&config)
                    })
                    .await;
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
            Self::InProcess(tx) => tx.send(job).map_err(|_| QueueError::Closed),
            Self::Disabled => Err(QueueError::NotConfigured),
        }
    }
}
