//! The custom resources, driven as CloudFormation drives them: a request naming a pre-signed
//! ResponseURL (here a fake that records the PUT), the database of the test harness, the fake Bot API.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::FakeTelegram;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BOT_TOKEN: &str = "123456:TEST-token";

/// Stands in for the S3 URL CloudFormation waits on.
async fn response_url() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

async fn reported(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one response is PUT");
    serde_json::from_slice(&requests[0].body).unwrap()
}

fn request(kind: &str, resource_type: &str, url: &str, properties: Value) -> Value {
    json!({
        "RequestType": kind,
        "ResponseURL": format!("{url}/response?X-Amz-Signature=abc"),
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/dream-photo-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Migrations",
        "ResourceType": resource_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:hooks",
        "ResourceProperties": properties,
    })
}

/// One request, not waiting for a database that does not answer.
async fn run(event: Value, vars: &HashMap<&str, String>) {
    run_waiting(event, vars, Duration::ZERO).await
}

async fn run_waiting(event: Value, vars: &HashMap<&str, String>, connect_wait: Duration) {
    let lookup = |name: &str| vars.get(name).cloned();
    deploy_hooks::handle_with(event, &lookup, &reqwest::Client::new(), connect_wait)
        .await
        .expect("the response is delivered");
}

#[tokio::test]
async fn migrations_apply_and_report_success() {
    let db = testkit::test_db().await;
    let cfn = response_url().await;
    let vars = HashMap::from([("DATABASE_URL", db.url.clone())]);
    run(
        request("Create", "Custom::Migrations", &cfn.uri(), json!({})),
        &vars,
    )
    .await;
    let body = reported(&cfn).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["RequestId"], "req-1");
    assert_eq!(body["LogicalResourceId"], "Migrations");
    assert!(body["Data"]["Applied"].is_number());
    // The schema is there: the runtime role's tables answer.
    let conn = db.db.conn().await.unwrap();
    conn.query_typed("SELECT count(*) FROM users", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_migration_failure_is_reported_with_its_error() {
    let cfn = response_url().await;
    // Nothing listens on port 9: the connection fails, as an unreachable proxy would.
    let vars = HashMap::from([(
        "DATABASE_URL",
        "postgres://owner@127.0.0.1:9/dream_photo".to_owned(),
    )]);
    run(
        request("Update", "Custom::Migrations", &cfn.uri(), json!({})),
        &vars,
    )
    .await;
    let body = reported(&cfn).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.contains("database connection"), "{reason}");
}

/// A proxy CloudFormation has just created refuses connections until its target is registered: the
/// migrations wait for it instead of failing the first deploy.
#[tokio::test]
async fn a_database_that_answers_late_is_migrated_once_it_does() {
    let db = testkit::test_db().await;
    let real: reqwest::Url = db.url.parse().unwrap();
    let real_addr = format!("{}:{}", real.host_str().unwrap(), real.port().unwrap());
    // A port with nothing on it for the first three seconds, then a forwarder to the database.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let real_addr = real_addr.clone();
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(real_addr).await.unwrap();
                tokio::io::copy_bidirectional(&mut client, &mut server)
                    .await
                    .ok();
            });
        }
    });
    let mut late = real.clone();
    late.set_port(Some(port)).unwrap();
    let cfn = response_url().await;
    let vars = HashMap::from([("DATABASE_URL", late.to_string())]);
    run_waiting(
        request("Create", "Custom::Migrations", &cfn.uri(), json!({})),
        &vars,
        Duration::from_secs(60),
    )
    .await;
    let body = reported(&cfn).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    db.db
        .conn()
        .await
        .unwrap()
        .query_typed("SELECT count(*) FROM users", &[])
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_the_migrations_leaves_the_database_alone() {
    let cfn = response_url().await;
    let vars = HashMap::new();
    run(
        request("Delete", "Custom::Migrations", &cfn.uri(), json!({})),
        &vars,
    )
    .await;
    assert_eq!(reported(&cfn).await["Status"], "SUCCESS");
}

fn bot_vars(telegram: &FakeTelegram) -> HashMap<&'static str, String> {
    HashMap::from([
        ("TELEGRAM_BOT_TOKEN", BOT_TOKEN.to_owned()),
        (
            "TELEGRAM_WEBHOOK_SECRET",
            testkit::WEBHOOK_SECRET.to_owned(),
        ),
        ("TELEGRAM_API_URL", telegram.url()),
    ])
}

/// [`bot_vars`] and the database the admins' menus are read from.
fn bot_and_db_vars(telegram: &FakeTelegram, db: &testkit::TestDb) -> HashMap<&'static str, String> {
    let mut vars = bot_vars(telegram);
    vars.insert("DATABASE_URL", db.url.clone());
    vars
}

const API_URL: &str = "https://abc.execute-api.eu-west-1.amazonaws.com";

/// CloudFormation creating the webhook of the API at `api_url`.
fn webhook_created(cfn: &MockServer, api_url: &str) -> Value {
    request(
        "Create",
        "Custom::TelegramWebhook",
        &cfn.uri(),
        json!({ "ApiUrl": api_url }),
    )
}

#[tokio::test]
async fn the_webhook_is_set_with_its_secret_and_the_menus() {
    let db = testkit::test_db().await;
    // An owner (ADMIN_IDS) and an admin they added, who chose English.
    testkit::fixtures::user(&db.db, 7001, 0).await;
    testkit::fixtures::user(&db.db, 7002, 0).await;
    {
        let conn = db.db.conn().await.unwrap();
        shared::repo::admins::add(&**conn, 7002, 7001)
            .await
            .unwrap();
        shared::repo::users::set_language(&**conn, 7002, shared::notify::Lang::En)
            .await
            .unwrap();
    }
    let telegram = FakeTelegram::start().await;
    let cfn = response_url().await;
    let event = webhook_created(&cfn, API_URL);
    let mut vars = bot_and_db_vars(&telegram, &db);
    vars.insert("ADMIN_IDS", "7001".to_owned());
    vars.insert("MINI_APP_URL", "https://app.example.com/dream".to_owned());
    run(event, &vars).await;
    let body = reported(&cfn).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let set: Value = telegram.last_call("setWebhook").parse();
    assert_eq!(set["url"], format!("{API_URL}/telegram/webhook"));
    assert_eq!(set["secret_token"], testkit::WEBHOOK_SECRET);
    let menus = telegram.calls_of("setMyCommands");
    assert_eq!(
        menus.len(),
        4,
        "Russian and English menus, and the two admins' own"
    );
    let en: Value = menus[1].parse();
    assert_eq!(en["language_code"], "en");
    let names = |menu: &Value| -> Vec<String> {
        menu["commands"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["command"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names(&en).contains(&"train".to_owned()));
    assert!(!names(&en).contains(&"admin_stats".to_owned()));
    // Each admin's menu is scoped to their chat: the owner's with the owners' commands, in the
    // default language; the admin's without them, in the English they chose.
    let owner: Value = menus[2].parse();
    assert_eq!(owner["scope"], json!({"type": "chat", "chat_id": 7001}));
    assert!(names(&owner).contains(&"admin_add".to_owned()));
    assert!(names(&owner).contains(&"train".to_owned()));
    let admin: Value = menus[3].parse();
    assert_eq!(admin["scope"], json!({"type": "chat", "chat_id": 7002}));
    assert!(names(&admin).contains(&"admin_stats".to_owned()));
    assert!(!names(&admin).contains(&"admin_add".to_owned()));
    let stats = admin["commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["command"] == "admin_stats")
        .unwrap();
    assert_eq!(stats["description"], "Statistics and a 30-day chart");
    // The menu button opens the Mini App.
    let button: Value = telegram.last_call("setChatMenuButton").parse();
    assert_eq!(button["menu_button"]["type"], "web_app");
    assert_eq!(
        button["menu_button"]["web_app"]["url"],
        "https://app.example.com/dream"
    );
}

#[tokio::test]
async fn without_a_mini_app_the_menu_button_is_left_alone() {
    let db = testkit::test_db().await;
    let telegram = FakeTelegram::start().await;
    let cfn = response_url().await;
    let event = webhook_created(&cfn, API_URL);
    run(event, &bot_and_db_vars(&telegram, &db)).await;
    assert_eq!(reported(&cfn).await["Status"], "SUCCESS");
    assert!(telegram.calls_of("setChatMenuButton").is_empty());
    assert_eq!(telegram.calls_of("setMyCommands").len(), 2);
}

#[tokio::test]
async fn a_webhook_telegram_refuses_fails_the_deploy() {
    let telegram = FakeTelegram::start().await;
    let cfn = response_url().await;
    let event = webhook_created(&cfn, "http://not-tls.example.com");
    run(event, &bot_vars(&telegram)).await;
    let body = reported(&cfn).await;
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().contains("https"));
    assert!(telegram.calls_of("setWebhook").is_empty());
}

#[tokio::test]
async fn deleting_the_stack_removes_the_webhook() {
    let telegram = FakeTelegram::start().await;
    let cfn = response_url().await;
    let event = request("Delete", "Custom::TelegramWebhook", &cfn.uri(), json!({}));
    run(event, &bot_vars(&telegram)).await;
    assert_eq!(reported(&cfn).await["Status"], "SUCCESS");
    assert_eq!(telegram.calls_of("deleteWebhook").len(), 1);
}

const REPLICATE_TOKEN: &str = "r8_test-token";

/// Replicate's `GET /v1/webhooks/default/secret`, answering the right token only.
async fn fake_replicate(key: &str) -> MockServer {
    use wiremock::matchers::{header, path};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/webhooks/default/secret"))
        .and(header("authorization", format!("Bearer {REPLICATE_TOKEN}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "key": key })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({ "detail": "Invalid token." })),
        )
        .mount(&server)
        .await;
    server
}

fn replicate_vars(replicate: &MockServer, token: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("REPLICATE_API_TOKEN", token.to_owned()),
        ("REPLICATE_API_URL", format!("{}/v1", replicate.uri())),
    ])
}

/// CloudFormation's `kind` request for the signing secret, run with Replicate's API `token`: what
/// it was answered.
async fn run_signing_secret(kind: &str, replicate: &MockServer, token: &str) -> Value {
    let cfn = response_url().await;
    let event = request(
        kind,
        "Custom::ReplicateWebhookSecret",
        &cfn.uri(),
        json!({}),
    );
    run(event, &replicate_vars(replicate, token)).await;
    reported(&cfn).await
}

#[tokio::test]
async fn the_replicate_signing_secret_is_fetched_for_the_stack_and_masked() {
    let replicate = fake_replicate(testkit::REPLICATE_WEBHOOK_SECRET).await;
    for kind in ["Create", "Update"] {
        let body = run_signing_secret(kind, &replicate, REPLICATE_TOKEN).await;
        assert_eq!(body["Status"], "SUCCESS", "{body}");
        assert_eq!(body["Data"]["Key"], testkit::REPLICATE_WEBHOOK_SECRET);
        assert_eq!(body["NoEcho"], true, "CloudFormation never shows the key");
        let physical = body["PhysicalResourceId"].as_str().unwrap();
        assert!(!physical.contains("whsec_"), "the id is not the secret");
    }
}

#[tokio::test]
async fn a_refused_replicate_token_fails_the_deploy_with_a_clear_reason() {
    let replicate = fake_replicate(testkit::REPLICATE_WEBHOOK_SECRET).await;
    let body = run_signing_secret("Create", &replicate, "r8_revoked").await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("refused the API token") && reason.contains("ReplicateApiToken"),
        "{reason}"
    );
    assert!(body.get("Data").is_none());
}

#[tokio::test]
async fn a_signing_secret_that_is_not_one_fails_the_deploy() {
    let replicate = fake_replicate("not-a-whsec").await;
    let body = run_signing_secret("Create", &replicate, REPLICATE_TOKEN).await;
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"].as_str().unwrap().contains("whsec_"),
        "{body}"
    );
}

#[tokio::test]
async fn deleting_the_signing_secret_resource_calls_nobody() {
    let replicate = fake_replicate(testkit::REPLICATE_WEBHOOK_SECRET).await;
    let body = run_signing_secret("Delete", &replicate, REPLICATE_TOKEN).await;
    assert_eq!(body["Status"], "SUCCESS");
    assert!(replicate.received_requests().await.unwrap().is_empty());
}
