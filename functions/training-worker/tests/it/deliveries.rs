//! SQS events as Lambda hands them to the worker.

use aws_lambda_events::sqs::SqsEvent;
use serde_json::json;

/// An event of `(message id, body)` records.
pub fn sqs_event(records: &[(&str, String)]) -> SqsEvent {
    let records: Vec<_> = records
        .iter()
        .map(|(id, body)| json!({"messageId": id, "body": body, "eventSource": "aws:sqs"}))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// The body of a training job message.
pub fn job(model_id: i64) -> String {
    json!({ "model_id": model_id }).to_string()
}

/// An event of one training job.
pub fn job_event(message_id: &str, model_id: i64) -> SqsEvent {
    sqs_event(&[(message_id, job(model_id))])
}

/// Hands the worker one training job for `model_id` and checks that it reports no failure: the
/// job was handled, or the worker put it back on the queue itself.
pub async fn deliver_job(state: &training_worker::State, model_id: i64) {
    let response = training_worker::handle_batch(state, job_event("m1", model_id)).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "no failure reported"
    );
}
