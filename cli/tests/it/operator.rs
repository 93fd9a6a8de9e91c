//! The operator's commands against the fake Bot API and a real Postgres.

use std::process::Command;

use testkit::{FakeTelegram, BOT_TOKEN};

#[tokio::test]
async fn set_webhook_registers_url_secret_update_types_and_the_command_menu() {
    let telegram = FakeTelegram::start().await;
    let url = telegram.url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dream-photo"))
            .args([
                "set-webhook",
                "--url",
                "https://abc.execute-api.eu-west-1.amazonaws.com/",
            ])
            .current_dir(std::env::temp_dir())
            .env("TELEGRAM_BOT_TOKEN", BOT_TOKEN)
            .env(
                "TELEGRAM_WEBHOOK_SECRET",
                "op-secret-0123456789abcdef0123456789",
            )
            .env("TELEGRAM_API_URL", url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let set = telegram.calls_of("setWebhook").remove(0);
    assert_eq!(
        set.body["url"],
        "https://abc.execute-api.eu-west-1.amazonaws.com/telegram/webhook"
    );
    assert_eq!(
        set.body["secret_token"],
        "op-secret-0123456789abcdef0123456789"
    );
    let allowed: Vec<&str> = set.body["allowed_updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        allowed.contains(&"pre_checkout_query")
            && allowed.contains(&"callback_query")
            && allowed.contains(&"message")
    );
    let menus = telegram.calls_of("setMyCommands");
    assert_eq!(menus.len(), 2);
    assert_eq!(menus[1].body["language_code"], "en");
}

#[test]
fn set_webhook_refuses_without_a_secret_or_with_plain_http() {
    let run = |args: &[&str], secret: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dream-photo"));
        command
            .args(args)
            .current_dir(std::env::temp_dir())
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
    let output = Command::new(env!("CARGO_BIN_EXE_dream-photo"))
        .args(["migrate"])
        .current_dir(std::env::temp_dir())
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
    let url = db.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_dream-photo"))
            .args(["migrate"])
            .current_dir(std::env::temp_dir())
            .env("DATABASE_URL", url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("0 new"),
        "the test database was already migrated"
    );
}
