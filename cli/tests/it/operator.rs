//! The operator's commands against the fake Bot API and a real Postgres.

use std::process::{Command, Output};

use serde::Deserialize;
use testkit::{FakeTelegram, BOT_TOKEN};

/// `dream-photo` with `args`, run from a directory without a `.env`.
fn dream_photo(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dream-photo"));
    command.args(args).current_dir(std::env::temp_dir());
    command
}

/// Runs `command` off the test's runtime and expects it to succeed.
async fn run_ok(mut command: Command) -> Output {
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// What `setWebhook` was called with.
#[derive(Deserialize)]
struct SetWebhook {
    url: String,
    secret_token: String,
    allowed_updates: Vec<String>,
}

#[tokio::test]
async fn set_webhook_registers_url_secret_update_types_and_the_command_menu() {
    let telegram = FakeTelegram::start().await;
    let url = telegram.url();
    let mut command = dream_photo(&[
        "set-webhook",
        "--url",
        "https://abc.execute-api.eu-west-1.amazonaws.com/",
    ]);
    command
        .env("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
        .env(
            "TELEGRAM_WEBHOOK_SECRET",
            "op-secret-0123456789abcdef0123456789",
        )
        .env("TELEGRAM_API_URL", url);
    run_ok(command).await;

    let set: SetWebhook = telegram.last_call("setWebhook").parse();
    assert_eq!(
        set.url,
        "https://abc.execute-api.eu-west-1.amazonaws.com/telegram/webhook"
    );
    assert_eq!(set.secret_token, "op-secret-0123456789abcdef0123456789");
    assert!(["pre_checkout_query", "callback_query", "message"]
        .iter()
        .all(|kind| set.allowed_updates.iter().any(|allowed| allowed == kind)));
    let menus = telegram.calls_of("setMyCommands");
    assert_eq!(menus.len(), 2);
    assert_eq!(menus[1].body["language_code"], "en");
}

#[test]
fn set_webhook_refuses_without_a_secret_or_with_plain_http() {
    let run = |args: &[&str], secret: Option<&str>| {
        let mut command = dream_photo(args);
        command
            .env("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
            .env("TELEGRAM_API_URL", "http://127.0.0.1:9");
        match secret {
            Some(s) => command.env("TELEGRAM_WEBHOOK_SECRET", s),
            None => command.env_remove("TELEGRAM_WEBHOOK_SECRET"),
        };
        command.output().unwrap()
    };
    let no_secret = run(&["set-webhook", "--url", "https://x.example.com"], None);
    assert!(!no_secret.status.success());
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("TELEGRAM_WEBHOOK_SECRET"));
    let http = run(
        &["set-webhook", "--url", "http://x.example.com"],
        Some("s-0123456789abcdef0123456789abcdef"),
    );
    assert!(String::from_utf8_lossy(&http.stderr).contains("https"));
}

#[test]
fn a_malformed_setting_stops_start_up_with_one_line_naming_it() {
    let output = dream_photo(&["migrate"])
        .env("ADMIN_IDS", "1,two")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ADMIN_IDS"));
}

#[tokio::test]
async fn migrate_applies_to_a_database_url() {
    let db = testkit::test_db().await;
    let mut command = dream_photo(&["migrate"]);
    command.env("DATABASE_URL", &db.url);
    let output = run_ok(command).await;
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("0 new"),
        "the test database was already migrated"
    );
}
