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

/// template.yaml expanded by aws-sam-translator (`sam_expand.py`), as CloudFormation would see it.
fn expanded() -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new("python3")
        .arg("cli/tests/it/sam_expand.py")
        .arg("template.yaml")
        .current_dir(&root)
        .output()
        .expect("python3 with aws-sam-translator (pip install aws-sam-translator)");
    assert!(
        output.status.success(),
        "aws-sam-translator could not expand the template:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the expanded template is JSON")
}

const FUNCTIONS: [&str; 5] = [
    "TelegramWebhookFunction",
    "ApiFunction",
    "ReplicateWebhookFunction",
    "TrainingWorkerFunction",
    "DeployHooksFunction",
];

#[test]
fn every_function_variable_is_one_config_reads() {
    let template = expanded();
    let known: Vec<String> = shared::config::VARIABLES
        .iter()
        .map(|v| v.to_string())
        .chain(
            shared::secrets::SECRET_SETTINGS
                .iter()
                .map(|s| format!("{s}_ARN")),
        )
        // The log filter, read by shared::telemetry rather than Config.
        .chain(["RUST_LOG".to_owned()])
        .collect();
    for function in FUNCTIONS {
        let vars = template["Resources"][function]["Properties"]["Environment"]["Variables"]
            .as_object()
            .unwrap_or_else(|| panic!("{function} has an environment"));
        for name in vars.keys() {
            assert!(
                known.contains(name),
                "{function} sets {name}, which Config does not read"
            );
        }
        for needed in [
            "DATABASE_URL",
            "DATABASE_IAM_AUTH",
            "TELEGRAM_BOT_TOKEN_ARN",
        ] {
            assert!(vars.contains_key(needed), "{function} needs {needed}");
        }
    }
}

/// The variables that only some functions read reach those that do: the bot's (its buttons) and
/// the deploy hooks' (its registration with Telegram).
#[test]
fn the_mini_app_url_reaches_the_bot_and_its_registration() {
    let template = expanded();
    for function in ["TelegramWebhookFunction", "DeployHooksFunction"] {
        let vars = &template["Resources"][function]["Properties"]["Environment"]["Variables"];
        for needed in ["MINI_APP_URL", "ADMIN_IDS", "SUPPORT_CONTACT"]
            .iter()
            .filter(|n| function == "TelegramWebhookFunction" || **n != "SUPPORT_CONTACT")
        {
            assert!(vars.get(*needed).is_some(), "{function} needs {needed}");
        }
    }
}

#[test]
fn migrations_run_before_the_functions_that_use_the_database() {
    let template = expanded();
    let resources = &template["Resources"];
    assert_eq!(resources["Migrations"]["Type"], "Custom::Migrations");
    for function in &FUNCTIONS[..4] {
        let depends = &resources[function]["DependsOn"];
        let listed = depends == "Migrations"
            || depends
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "Migrations"));
        assert!(listed, "{function} waits for the migrations");
    }
}

#[test]
fn reserved_concurrency_leaves_the_bot_its_share() {
    let template = expanded();
    let resources = &template["Resources"];
    let reserved = |f: &str| {
        resources[f]["Properties"]["ReservedConcurrentExecutions"]
            .as_i64()
            .unwrap_or_else(|| panic!("{f} has reserved concurrency"))
    };
    let total: i64 = FUNCTIONS.iter().map(|f| reserved(f)).sum();
    // One connection each (DATABASE_POOL_SIZE 1); the proxy's budget is documented in docs/deploy.md.
    assert!(total <= 60, "{total} connections at most");
    // The bot keeps the largest share: a person waiting on a reply comes first.
    for function in &FUNCTIONS[1..] {
        assert!(
            reserved("TelegramWebhookFunction") > reserved(function),
            "{function}"
        );
    }
}
