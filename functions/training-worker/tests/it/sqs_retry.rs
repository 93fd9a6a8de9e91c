//! Retries on SQS, against a local SQS-compatible server (moto, from PyPI; `.ci/setup` installs it):
//! a job that failed for now comes back within seconds (its visibility is changed with a growing
//! backoff), not after the queue's 30-minute visibility timeout.

use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::json;
use shared::domain::status::ModelStatus;
use shared::queue::TrainingJob;
use shared::services::Services;
use testkit::moto::Moto;
use testkit::stored;
use testkit::{fixtures, TestEnv};

#[tokio::test]
async fn three_503s_then_success_are_retried_within_seconds_through_visibility_changes() {
    let moto = Moto::start();
    let sqs = moto.sqs();
    // As deployed: a visibility timeout far longer than the test may wait.
    let queue_url = moto
        .create_training_queue(&[(QueueAttributeName::VisibilityTimeout, "1800")])
        .await;

    let env = TestEnv::start().await;
    let queue = moto.training_queue(queue_url.clone());
    let services = Services::new(env.config(), queue.clone()).unwrap();
    let state = training_worker::State::with_retry_base(services, Duration::from_secs(1));
    let (_, model) = fixtures::user_with_queued_model(env.db(), 1, 100).await;
    for _ in 0..3 {
        env.replicate.fail_next("/files", 503, "upstream trouble");
    }
    queue
        .send(TrainingJob { model_id: model.id })
        .await
        .unwrap();

    let started = Instant::now();
    let mut received_at = Vec::new();
    loop {
        // Long polls until the job is back (a loaded machine may answer a poll empty early), for far
        // less than the queue's 30-minute visibility timeout.
        let waiting_since = Instant::now();
        let message = loop {
            let received = sqs
                .receive_message()
                .queue_url(&queue_url)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .wait_time_seconds(5)
                .send()
                .await
                .expect("receive");
            if let Some(message) = received.messages.unwrap_or_default().into_iter().next() {
                break message;
            }
            assert!(
                waiting_since.elapsed() < Duration::from_secs(60),
                "the job comes back within seconds, not after the visibility timeout"
            );
        };
        received_at.push(started.elapsed());
        let count = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .cloned()
            .unwrap();
        let event = serde_json::from_value(json!({"Records": [{
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {"ApproximateReceiveCount": count},
            "eventSource": "aws:sqs",
        }]}))
        .unwrap();
        let response = training_worker::handle_batch(&state, event).await;
        if response.batch_item_failures.is_empty() {
            break;
        }
        assert!(received_at.len() < 4, "three failures, then it works");
    }
    assert_eq!(received_at.len(), 4);
    // Made visible again after 1 s, 3 s, 9 s (the backoff with a 1 s base; 10 s, 30 s, 90 s deployed).
    let gaps: Vec<Duration> = received_at.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, least) in gaps.iter().zip([1, 3, 9]) {
        assert!(
            *gap >= Duration::from_millis(least * 1000 - 200),
            "waited {gap:?}, at least {least} s expected"
        );
    }
    assert_eq!(
        stored::model(env.db(), model.id).await.status,
        ModelStatus::Training
    );
    assert_eq!(env.replicate.trainings().len(), 1);
}
