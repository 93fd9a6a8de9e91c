use lambda_http::tower::ServiceExt;
use lambda_http::RequestExt;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = telegram_webhook::State::from_env().await?;
    let app = telegram_webhook::router(state);
    // Each request is handled inside its invocation, so every log line carries its request id.
    lambda_http::run(lambda_http::service_fn(
        move |request: lambda_http::Request| {
            let request_id = request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
                .unwrap_or_default();
            shared::telemetry::invocation(request_id, app.clone().oneshot(request))
        },
    ))
    .await
}
