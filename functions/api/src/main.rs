#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = api::State::from_env().await?;
    lambda_http::run(api::router(state)).await
}
