//! Business metrics as CloudWatch embedded metric format (EMF): one JSON line per event on stdout,
//! which CloudWatch Logs turns into metrics of the namespace [`NAMESPACE`] (no SDK call, nothing to
//! wait for). Each event is emitted once, where it happens: after the commit of a change that moved
//! (a report delivered twice emits nothing the second time). Dimensions are few and of few values
//! (a currency, a job kind, a remote and an error kind, the function); never an id.
//!
//! Off Lambda the lines go to the log at `debug` (target `metrics`). Tests read them with
//! [`capture`], which scopes a sink to one future (a task-local), so tests running side by side
//! never see each other's lines.

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every metric here.
pub const NAMESPACE: &str = "DreamPhoto";

/// A training's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Training {
    /// Paid for and queued.
    Queued,
    /// Running at Replicate.
    Started,
    Succeeded,
    /// Failed, or could not start.
    Failed,
}

/// A generation's step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// Its prediction is running at Replicate.
    Started,
    /// Its album was delivered.
    Succeeded,
    /// Failed or canceled (and refunded).
    Failed,
}

/// A paid job whose cost went back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Training,
    Generation,
}

/// A service outside we call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    Replicate,
    Telegram,
}

/// What kind of failure a remote answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth trying again: network, 5xx, rate limit.
    Transient,
    /// Will fail the same way every time.
    Permanent,
    /// Our own credentials refused: a person must act.
    Auth,
}

impl Training {
    fn metric(self) -> &'static str {
        match self {
            Training::Queued => "TrainingQueued",
            Training::Started => "TrainingStarted",
            Training::Succeeded => "TrainingSucceeded",
            Training::Failed => "TrainingFailed",
        }
    }
}

impl Generation {
    fn metric(self) -> &'static str {
        match self {
            Generation::Started => "GenerationStarted",
            Generation::Succeeded => "GenerationSucceeded",
            Generation::Failed => "GenerationFailed",
        }
    }
}

impl Job {
    fn as_str(self) -> &'static str {
        match self {
            Job::Training => "training",
            Job::Generation => "generation",
        }
    }
}

impl Remote {
    fn as_str(self) -> &'static str {
        match self {
            Remote::Replicate => "replicate",
            Remote::Telegram => "telegram",
        }
    }
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Permanent => "permanent",
            ErrorKind::Auth => "auth",
        }
    }
}

/// A training moved a step.
pub fn training(step: Training) {
    emit(&Line::new().count(step.metric()));
}

/// A generation moved a step.
pub fn generation(step: Generation) {
    emit(&Line::new().count(step.metric()));
}

/// A payment was recorded: one `Payment` and its `PaymentAmount` (in the currency's smallest unit,
/// as Telegram reports it; Stars are whole), by currency.
pub fn payment(currency: &str, amount: i64) {
    emit(
        &Line::new()
            .dimension("Currency", currency)
            .count("Payment")
            .value("PaymentAmount", amount as f64, "None"),
    );
}

/// A failed job's cost was credited back: one `Refund` and its `RefundedTokens`, by job kind.
pub fn refund(job: Job, tokens: i64) {
    emit(
        &Line::new()
            .dimension("Job", job.as_str())
            .count("Refund")
            .value("RefundedTokens", tokens as f64, "None"),
    );
}

/// A finished job's cost was recorded: its `JobCostUsd`, and `DayMarginUsd`, today's (UTC) revenue
/// less today's costs with it (negative: the day loses money).
pub fn job_cost(cost_usd: f64, day_margin_usd: f64) {
    emit(&Line::new().value("JobCostUsd", cost_usd, "None").value(
        "DayMarginUsd",
        day_margin_usd,
        "None",
    ));
}

/// A call to Replicate or Telegram failed: one `RemoteError` by remote and kind (and, in a second
/// dimension set, by function).
pub fn remote_error(remote: Remote, kind: ErrorKind) {
    emit(
        &Line::new()
            .dimension("Remote", remote.as_str())
            .dimension("Kind", kind.as_str())
            .also_by_function()
            .count("RemoteError"),
    );
}

/// The effect log as the scheduled run found it: effects due now and how long the oldest has been.
pub fn effect_backlog(due: i64, oldest_due_seconds: f64) {
    emit(
        &Line::new()
            .value("EffectBacklog", due as f64, "Count")
            .value("OldestDueEffectAge", oldest_due_seconds, "Seconds"),
    );
}

/// Trainings paid for and not yet started, and how long the oldest has waited.
pub fn training_queue(queued: i64, oldest_queued_seconds: f64) {
    emit(
        &Line::new()
            .value("TrainingQueueDepth", queued as f64, "Count")
            .value("TrainingQueueAge", oldest_queued_seconds, "Seconds"),
    );
}

/// One EMF line under construction: its dimensions and its metrics with their values.
#[derive(Debug, Default)]
struct Line {
    dimensions: Vec<(&'static str, String)>,
    by_function: bool,
    metrics: Vec<(&'static str, f64, &'static str)>,
}

impl Line {
    fn new() -> Self {
        Self::default()
    }

    fn dimension(mut self, name: &'static str, value: &str) -> Self {
        self.dimensions.push((name, value.to_owned()));
        self
    }

    fn also_by_function(mut self) -> Self {
        self.by_function = true;
        self
    }

    fn count(self, name: &'static str) -> Self {
        self.value(name, 1.0, "Count")
    }

    fn value(mut self, name: &'static str, value: f64, unit: &'static str) -> Self {
        self.metrics.push((name, value, unit));
        self
    }
}

/// The function's name on Lambda, `local` elsewhere.
fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".to_owned())
}

/// The EMF document of `line`, stamped `timestamp_ms`.
fn render(line: &Line, timestamp_ms: i64) -> Value {
    let names: Vec<&str> = line.dimensions.iter().map(|(name, _)| *name).collect();
    let mut dimension_sets = vec![names];
    let mut root = Map::new();
    for (name, value) in &line.dimensions {
        root.insert((*name).to_owned(), json!(value));
    }
    if line.by_function {
        dimension_sets.push(vec!["FunctionName"]);
        root.insert("FunctionName".to_owned(), json!(function_name()));
    }
    let metrics: Vec<Value> = line
        .metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    for (name, value, _) in &line.metrics {
        root.insert((*name).to_owned(), json!(value));
    }
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimension_sets,
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}

type Sink = Arc<Mutex<Vec<String>>>;

tokio::task_local! {
    static SINK: Sink;
}

fn emit(line: &Line) {
    let text = render(line, chrono::Utc::now().timestamp_millis()).to_string();
    let captured = SINK.try_with(|sink| {
        sink.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(text.clone())
    });
    if captured.is_ok() {
        return;
    }
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
        // One write of a whole line: CloudWatch reads each line of stdout as one record.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    } else {
        tracing::debug!(target: "metrics", "{text}");
    }
}

/// The EMF lines a future emitted, in order, instead of stdout.
#[derive(Debug, Clone, Default)]
pub struct Captured(Sink);

impl Captured {
    /// Every line, parsed.
    pub fn lines(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|line| serde_json::from_str(line).expect("an EMF line is JSON"))
            .collect()
    }

    /// How many lines carry metric `name`.
    pub fn count(&self, name: &str) -> usize {
        self.lines()
            .iter()
            .filter(|line| line.get(name).is_some())
            .count()
    }

    /// The values of metric `name`, one per line carrying it.
    pub fn values(&self, name: &str) -> Vec<f64> {
        self.lines()
            .iter()
            .filter_map(|line| line.get(name).and_then(Value::as_f64))
            .collect()
    }
}

/// Runs `future` with its metrics captured (what it awaits inline included; a task it spawns is not).
pub async fn capture<F: Future>(future: F) -> (F::Output, Captured) {
    let captured = Captured::default();
    let output = SINK.scope(captured.0.clone(), future).await;
    (output, captured)
}
