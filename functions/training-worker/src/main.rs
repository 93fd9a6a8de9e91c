use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let state = training_worker::State::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let state = state.clone();
        // Inside its invocation, so every log line carries the request id. Boxed: the handler's
        // future is deep.
        let handler =
            Box::pin(async move { training_worker::handle_event(&state, event.payload).await });
        shared::telemetry::invocation(event.context.request_id, handler)
    }))
    .await
}
