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
