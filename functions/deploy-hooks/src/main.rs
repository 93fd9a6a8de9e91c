use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    // Bounded: an answer CloudFormation never gets (its S3 URL unreachable) fails the call in time
    // to say so, rather than holding the stack for the hour CloudFormation waits.
    let http = shared::http_client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let http = http.clone();
        async move {
            let env = |name: &str| std::env::var(name).ok();
            deploy_hooks::handle(event.payload, &env, &http).await
        }
    }))
    .await
}
