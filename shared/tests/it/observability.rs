//! What operators read: the embedded-metric lines and the Lambda fields of a log line.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use shared::metrics;
use shared::usecases::payments::{self, ConfirmedPayment};
use testkit::{fixtures, TestEnv};

#[tokio::test]
async fn a_metric_line_is_cloudwatch_embedded_metric_format() {
    let before = chrono::Utc::now().timestamp_millis();
    let ((), captured) = metrics::capture(async { metrics::payment("XTR", 250) }).await;
    let after = chrono::Utc::now().timestamp_millis();

    let lines = captured.lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    let aws = &line["_aws"];
    let timestamp = aws["Timestamp"].as_i64().expect("Timestamp in ms");
    assert!((before..=after).contains(&timestamp));
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert_eq!(directives.len(), 1);
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "DreamPhoto");
    assert_eq!(directive["Dimensions"], serde_json::json!([["Currency"]]));
    assert_eq!(
        directive["Metrics"],
        serde_json::json!([
            {"Name": "Payment", "Unit": "Count"},
            {"Name": "PaymentAmount", "Unit": "None"},
        ])
    );
    // Every dimension and metric named in the directive is a top-level member of the line.
    assert_eq!(line["Currency"], "XTR");
    assert_eq!(line["Payment"], 1.0);
    assert_eq!(line["PaymentAmount"], 250.0);
}

#[tokio::test]
async fn a_remote_error_is_counted_by_kind_and_by_function() {
    let ((), captured) = metrics::capture(async {
        metrics::remote_error(metrics::Remote::Replicate, metrics::ErrorKind::Auth)
    })
    .await;
    let line = &captured.lines()[0];
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Remote", "Kind"], ["FunctionName"]])
    );
    assert_eq!(line["Remote"], "replicate");
    assert_eq!(line["Kind"], "auth");
    assert!(line["FunctionName"].is_string());
    assert_eq!(line["RemoteError"], 1.0);
}

#[tokio::test]
async fn a_payment_emits_its_amount_once() {
    let env = TestEnv::start().await;
    let (services, _jobs) = env.services();
    let user = fixtures::user(env.db(), 1, 0).await;
    let plan = payments::plan_invoice(&services, user.id, "small")
        .await
        .expect("an invoice for the small pack");
    let paid = ConfirmedPayment {
        user_id: user.id,
        currency: &plan.pack.currency,
        total: plan.price,
        payload: &plan.payload,
        telegram_charge_id: "charge_1",
        provider_charge_id: "",
    };

    let (credited, captured) = metrics::capture(payments::credit(&services, &paid)).await;
    assert!(credited.expect("credited").is_some());
    assert_eq!(captured.values("PaymentAmount"), vec![plan.price as f64]);
    let line = &captured.lines()[0];
    assert_eq!(line["Currency"], plan.pack.currency.as_str());

    // Telegram delivering the same payment again records nothing and emits nothing.
    let (again, captured) = metrics::capture(payments::credit(&services, &paid)).await;
    assert!(again.expect("answered").is_none());
    assert_eq!(captured.count("Payment"), 0);
}

/// A log destination the test reads.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_lambda_log_line_carries_the_request_id_and_whether_the_start_was_cold() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber =
        shared::telemetry::json_subscriber(shared::telemetry::filter_from(None).0, move || {
            writer.clone()
        });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            // The only invocations of this test binary: the first is the process's cold start.
            shared::telemetry::invocation("req-1", async {
                tracing::info!(model_id = 7, "first");
            })
            .await;
            shared::telemetry::invocation("req-2", async {
                tracing::info!("second");
            })
            .await;
        });
        tracing::info!("outside any invocation");
    });

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).expect("utf-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["requestId"], "req-1");
    assert_eq!(lines[0]["coldStart"], true);
    assert_eq!(lines[0]["fields"]["message"], "first");
    assert_eq!(lines[0]["fields"]["model_id"], 7);
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[1]["requestId"], "req-2");
    assert_eq!(lines[1]["coldStart"], false);
    assert!(lines[2].get("requestId").is_none());
}
