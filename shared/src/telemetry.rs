//! Logging: JSON lines on Lambda (CloudWatch picks fields out of them), readable text on a terminal.
//! `RUST_LOG` sets the filter (default `info`). Handlers open one span per update or request with its
//! ids; nothing logs secrets, tokens or init data.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if on_lambda {
        // The span list carries the Lambda runtime's `requestId` span into every line, beside our own
        // spans (update_id, webhook_id, user_id, model_id).
        builder
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_ansi(false)
            .without_time() // CloudWatch stamps every line
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}

/// `error: cause: cause`, for one log line per failure.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
