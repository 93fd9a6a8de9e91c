//! Logging: JSON lines on Lambda (CloudWatch picks fields out of them), readable text on a terminal.
//! `RUST_LOG` sets the filter (default `info`): a level, or `target=level` pairs separated by commas
//! (`info,shared=debug`); what does not parse is reported once and `info` is used. Handlers open one span per update or request with its
//! ids; nothing logs secrets, tokens or init data.
//!
//! On Lambda every line carries the invocation's `requestId` and `coldStart` (true for the first
//! invocation of a process) as top-level fields: each `main.rs` runs its handler inside
//! [`invocation`] with the request id the runtime gives it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tracing::Subscriber;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init() {
    let (filter, unreadable) = filter_from(std::env::var("RUST_LOG").ok().as_deref());
    let on_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    if on_lambda {
        let _ = json_subscriber(filter, std::io::stdout).try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_target(false)
            .finish()
            .with(filter)
            .try_init();
    }
    if let Some(error) = unreadable {
        tracing::warn!(%error, "RUST_LOG does not parse: logging at info");
    }
}

/// The filter `RUST_LOG` names (`info` when unset or empty), and why it did not parse if it did not.
pub fn filter_from(rust_log: Option<&str>) -> (Targets, Option<String>) {
    let default = || Targets::new().with_default(tracing::Level::INFO);
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (default(), None),
        Some(spec) => match spec.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(e) => (default(), Some(e.to_string())),
        },
    }
}

/// The JSON lines of Lambda, written to `writer`. The span list carries the Lambda runtime's
/// `requestId` span into every line, beside our own spans (update_id, webhook_id, user_id,
/// model_id); the invocation's fields are added at the top.
pub fn json_subscriber<W>(filter: Targets, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::format()
        .json()
        .with_current_span(false)
        .with_span_list(true)
        .without_time(); // CloudWatch stamps every line
    tracing_subscriber::fmt()
        .json()
        .with_ansi(false)
        .with_writer(writer)
        .event_format(WithInvocation(format))
        .finish()
        .with(filter)
}

/// The Lambda invocation being handled.
#[derive(Debug, Clone)]
struct Invocation {
    request_id: String,
    cold_start: bool,
}

tokio::task_local! {
    static INVOCATION: Invocation;
}

/// Set once the process has begun its first invocation.
static WARM: AtomicBool = AtomicBool::new(false);

/// Runs one invocation's handler: what it logs carries `request_id` and whether this is the
/// process's first invocation (a cold start).
pub async fn invocation<F: Future>(request_id: impl Into<String>, handler: F) -> F::Output {
    let current = Invocation {
        request_id: request_id.into(),
        cold_start: !WARM.swap(true, Ordering::Relaxed),
    };
    INVOCATION.scope(current, handler).await
}

/// A JSON event format with the invocation's fields added at the top of each line.
struct WithInvocation<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithInvocation<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Ok(current) = INVOCATION.try_with(Invocation::clone) else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match serde_json::from_str::<Value>(line.trim_end()) {
            Ok(Value::Object(mut fields)) => {
                fields.insert("requestId".into(), Value::String(current.request_id));
                fields.insert("coldStart".into(), Value::Bool(current.cold_start));
                writeln!(writer, "{}", Value::Object(fields))
            }
            _ => writer.write_str(&line),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::filter_from;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn rust_log_names_a_level_or_levels_per_target_and_a_bad_one_falls_back_to_info() {
        let (unset, error) = filter_from(None);
        assert_eq!(unset.default_level(), Some(LevelFilter::INFO));
        assert!(error.is_none());

        let (given, error) = filter_from(Some("warn,shared=debug"));
        assert!(error.is_none());
        assert_eq!(given.default_level(), Some(LevelFilter::WARN));
        assert!(given.would_enable("shared::usecases", &tracing::Level::DEBUG));
        assert!(!given.would_enable("api", &tracing::Level::INFO));

        let (fallback, error) = filter_from(Some("shared=loud"));
        assert_eq!(fallback.default_level(), Some(LevelFilter::INFO));
        assert!(error.is_some());
    }
}
