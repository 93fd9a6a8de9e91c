//! The SQS training queue against a local SQS-compatible server (moto, from PyPI; `.ci/setup`
//! installs it).

use shared::queue::TrainingJob;
use testkit::moto::Moto;

#[tokio::test]
async fn training_jobs_go_through_sqs() {
    let moto = Moto::start();
    let queue_url = moto.create_training_queue(&[]).await;

    let queue = moto.training_queue(queue_url.clone());
    queue
        .send(TrainingJob { model_id: 42 })
        .await
        .expect("send through SQS");

    let received = moto
        .sqs()
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive");
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let job: TrainingJob = serde_json::from_str(messages[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(job, TrainingJob { model_id: 42 });

    // A queue that does not exist is an error the caller sees (and nothing is debited before it).
    let missing = moto.training_queue(format!("{}/123456789012/missing", moto.url()));
    assert!(missing.send(TrainingJob { model_id: 1 }).await.is_err());
}
