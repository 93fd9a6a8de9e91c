//! The SQS training queue against a local SQS-compatible server (moto, from PyPI; `.ci/setup`
//! installs it). Its own test binary: it sets the AWS environment the SDK reads.

use shared::queue::{TrainingJob, TrainingQueue};

#[tokio::test]
async fn training_jobs_go_through_sqs() {
    let moto = testkit::moto::Moto::start();
    let port = moto.port;
    // SAFETY: this test binary has one test; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_SQS", format!("http://127.0.0.1:{port}"));
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = sqs
        .create_queue()
        .queue_name("dream-photo-training")
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue URL");

    let queue = TrainingQueue::sqs(queue_url.clone());
    queue
        .send(TrainingJob { model_id: 42 })
        .await
        .expect("send through SQS");

    let received = sqs
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
    let missing = TrainingQueue::sqs(format!("http://127.0.0.1:{port}/123456789012/missing"));
    assert!(missing.send(TrainingJob { model_id: 1 }).await.is_err());
}
