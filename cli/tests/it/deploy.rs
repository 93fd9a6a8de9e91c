//! The SAM template is valid CloudFormation, checked offline with cfn-lint (what `sam validate
//! --lint` runs; `.ci/setup` installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn the_sam_template_passes_cfn_lint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new("cfn-lint")
        .arg("template.yaml")
        .current_dir(&root)
        .output()
        .expect("cfn-lint is needed for this test: pip install cfn-lint (.ci/setup does)");
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_template_builds_every_function_from_cargo_lambda_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = std::fs::read_to_string(root.join("template.yaml")).unwrap();
    for function in [
        "telegram-webhook",
        "api",
        "replicate-webhook",
        "training-worker",
    ] {
        assert!(
            template.contains(&format!("target/lambda/{function}")),
            "{function} is deployed from cargo lambda's output"
        );
    }
    for route in [
        "/telegram/webhook",
        "/replicate/webhook",
        "/health",
        "/api/{proxy+}",
    ] {
        assert!(template.contains(route), "the HTTP API routes {route}");
    }
    assert!(template.contains("ReportBatchItemFailures"));
    assert!(template.contains("maxReceiveCount"));
}
