#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = replicate_webhook::State::from_env().await?;
    lambda_http::run(replicate_webhook::router(state)).await
}
