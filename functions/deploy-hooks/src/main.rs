use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let http = reqwest::Client::new();
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let http = http.clone();
        async move {
            let env = |name: &str| std::env::var(name).ok();
            deploy_hooks::handle(event.payload, &env, &http).await
        }
    }))
    .await
}
