#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = telegram_webhook::State::from_env().await?;
    web::run_on_lambda(telegram_webhook::router(state)).await
}
