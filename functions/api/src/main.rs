#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = api::State::from_env().await?;
    web::run_on_lambda(api::router(state)).await
}
