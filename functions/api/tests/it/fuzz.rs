//! Schema-based fuzzing: schemathesis (PyPI) reads `/openapi.json` from the API served on a local
//! port and sends generated requests (valid and invalid) to every operation, as an admin with
//! tokens and a ready model. No answer may be a 5xx, and every answer must match the spec.
//! Skipped (with a note) where schemathesis is not installed; `.ci/setup` installs it.

use std::future::IntoFuture;
use std::process::Stdio;
use std::time::Duration;

use crate::app::{fixtures, tma, App, ADMIN_ID};
use shared::repo::rate_limits::Limit;

const PYTHON: &str = "python3";
/// Runs schemathesis' CLI through the interpreter that has the package (no script on PATH needed).
const LAUNCH: &str =
    "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())";

fn schemathesis_available() -> bool {
    std::process::Command::new(PYTHON)
        .args(["-c", "import schemathesis"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_response_off_the_spec() {
    if !schemathesis_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis must run in CI (.ci/setup installs it)"
        );
        eprintln!("schemathesis is not installed (pip install schemathesis): fuzzing skipped");
        return;
    }
    // Generous limits, so the fuzzer reaches the routes' own checks (429s are in the spec too).
    let limits = api::RateLimits {
        generation: Limit {
            action: "generation",
            max: 1000,
            window_seconds: 60,
        },
        training: Limit {
            action: "training",
            max: 1000,
            window_seconds: 3600,
        },
        ..Default::default()
    };
    let app = App::spawn_with(|env| env.set("DATABASE_POOL_SIZE", Some("4")), limits).await;
    fixtures::user(app.db(), ADMIN_ID, 1_000_000).await;
    fixtures::ready_model(app.db(), ADMIN_ID).await;
    fixtures::user(app.db(), 5150, 10).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    let report =
        std::env::temp_dir().join(format!("dream-photo-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&report).unwrap();
    let mut command = tokio::process::Command::new(PYTHON);
    // Run where its caches and reports may go (not in the work tree).
    command
        .current_dir(&report)
        .args(["-c", LAUNCH, "run"])
        .arg(format!("http://{addr}/openapi.json"))
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args([
            "--max-examples",
            &std::env::var("FUZZ_MAX_EXAMPLES").unwrap_or_else(|_| "20".into()),
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--workers", "2"])
        .args(["--request-timeout", "20"])
        .arg("--no-shrink")
        .args(["--suppress-health-check", "all"])
        .args(["-H", &format!("Authorization: {}", tma(ADMIN_ID))])
        .arg("--report-dir")
        .arg(&report)
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    if let Ok(seed) = std::env::var("FUZZ_SEED") {
        command.args(["--seed", &seed]);
    }
    let output = tokio::time::timeout(Duration::from_secs(240), command.output())
        .await
        .expect("schemathesis finishes within 4 minutes")
        .expect("schemathesis runs");
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&report);
    let summary: Vec<&str> = stdout.lines().rev().take(16).collect();
    eprintln!(
        "{}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
}
