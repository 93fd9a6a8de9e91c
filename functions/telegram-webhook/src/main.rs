#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = telegram_webhook::State::from_env().await?;
    lambda_http::run(telegram_webhook::router(state)).await
}
