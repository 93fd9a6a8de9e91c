//! `Idempotency-Key` on the paid and state-changing POSTs: a retry is carried out once and answered
//! with the first answer; money (the balance, the ledger) and what the fake Replicate received
//! show it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use serde_json::{json, Value};

use crate::app::{fixtures, tma, App};

const ANN: i64 = 101;
const BOB: i64 = 202;
const KEY: &str = "3f6c1d2e-7a4b-4c9d-8e1f-0a2b3c4d5e6f";

/// A raw answer: the body's bytes as sent.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, String::from_utf8_lossy(&self.body))
    }
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

async fn send(app: &App, request: Request<Body>) -> Raw {
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .expect("the router answers");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the body is read");
    Raw {
        status: parts.status,
        headers: parts.headers,
        body: body.to_vec(),
    }
}

/// A JSON POST as `user` (unauthenticated when `None`), with `key` as its `Idempotency-Key`.
fn keyed(path: &str, user: Option<i64>, key: Option<HeaderValue>, body: &Value) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(user) = user {
        request = request.header(header::AUTHORIZATION, tma(user));
    }
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

async fn post(app: &App, path: &str, user: i64, key: &str, body: &Value) -> Raw {
    let key = HeaderValue::from_str(key).unwrap();
    send(app, keyed(path, Some(user), Some(key), body)).await
}

async fn generate(app: &App, user: i64, key: &str, body: &Value) -> Raw {
    post(app, "/api/generations", user, key, body).await
}

fn generation(model_id: i64, prompt: &str) -> Value {
    json!({"model_id": model_id, "prompt": prompt, "count": 1})
}

/// The user's ledger rows but the fixture's grant, oldest first: `(reason, delta)`.
async fn ledger(app: &App, user_id: i64) -> Vec<(String, i64)> {
    let conn = app.db().conn().await.unwrap();
    conn.query(
        "SELECT reason, delta FROM token_ledger WHERE user_id = $1 AND reason <> 'admin' ORDER BY id",
        &[&user_id],
    )
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

async fn generations_of(app: &App, user_id: i64) -> i64 {
    let conn = app.db().conn().await.unwrap();
    conn.query_one(
        "SELECT count(*) FROM generations WHERE user_id = $1",
        &[&user_id],
    )
    .await
    .unwrap()
    .get(0)
}

fn predictions(app: &App) -> usize {
    app.env.replicate.calls_to("POST", "/predictions").len()
}

/// Runs `sql` against the key table (a test's way to age or interrupt a key).
async fn keys_sql(app: &App, sql: &str) -> u64 {
    let conn = app.db().conn().await.unwrap();
    conn.execute(sql, &[]).await.unwrap()
}

/// The key's row as while its first request runs, its lease ending `lease_left` from now (a
/// negative interval: a lease run out, the request interrupted).
async fn mark_running(app: &App, lease_left: &str) {
    let sql = format!(
        "UPDATE idempotency_keys SET state = 'running', status = NULL, content_type = NULL,
             body = NULL, lease_until = now() + interval '{lease_left}'"
    );
    keys_sql(app, &sql).await;
}

async fn key_rows(app: &App) -> i64 {
    let conn = app.db().conn().await.unwrap();
    conn.query_one("SELECT count(*) FROM idempotency_keys", &[])
        .await
        .unwrap()
        .get(0)
}

/// Ann with a ready model and `tokens`, and the body of a generation with that model.
async fn ann_with_a_model(tokens: i64) -> (App, Value) {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, tokens).await;
    (app, generation(model.id, "on a beach"))
}

/// Ann's generation with `KEY`, carried out.
async fn generate_once(app: &App, body: &Value) -> Raw {
    let first = generate(app, ANN, KEY, body).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{first:?}");
    first
}

/// Ann was charged for one generation, and it was started once at Replicate.
async fn assert_charged_once(app: &App) {
    assert_eq!(app.balance(ANN).await, 95);
    assert_eq!(ledger(app, ANN).await.len(), 1);
    assert_eq!(predictions(app), 1);
}

#[tokio::test]
async fn a_retried_generation_with_the_same_key_is_charged_and_started_once() {
    let (app, body) = ann_with_a_model(100).await;

    let first = generate_once(&app, &body).await;
    assert!(!first.replayed());
    let retry = generate(&app, ANN, KEY, &body).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{retry:?}");
    assert!(retry.replayed(), "{:?}", retry.headers);
    assert_eq!(retry.body, first.body, "the same body bytes");
    assert_eq!(
        retry.headers[header::CONTENT_TYPE],
        first.headers[header::CONTENT_TYPE]
    );

    assert_eq!(app.balance(ANN).await, 95, "charged once");
    assert_eq!(ledger(&app, ANN).await, vec![("generation".to_owned(), -5)]);
    assert_eq!(generations_of(&app, ANN).await, 1);
    assert_eq!(predictions(&app), 1, "one prediction at Replicate");

    // Without a key, a request is carried out each time, as before.
    let plain = app.post("/api/generations", ANN, body.clone()).await;
    assert_eq!(plain.status, StatusCode::ACCEPTED);
    assert_eq!(app.balance(ANN).await, 90);
    assert_eq!(predictions(&app), 2);
}

#[tokio::test]
async fn an_admins_token_grant_retried_with_its_key_is_made_once() {
    let app = App::spawn().await;
    fixtures::user(app.db(), testkit::ADMIN_ID, 0).await;
    fixtures::user(app.db(), ANN, 10).await;
    let grant = json!({"delta": 50, "reason": "support"});
    let path = format!("/api/admin/users/{ANN}/tokens");
    let first = post(&app, &path, testkit::ADMIN_ID, KEY, &grant).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    let retry = post(&app, &path, testkit::ADMIN_ID, KEY, &grant).await;
    assert!(retry.replayed(), "{:?}", retry.headers);
    assert_eq!(retry.body, first.body);
    assert_eq!(app.balance(ANN).await, 60, "granted once");
}

#[tokio::test]
async fn the_same_key_with_another_request_is_refused_and_charges_nothing() {
    let (app, body) = ann_with_a_model(100).await;
    let first = generate_once(&app, &body).await;

    let mut another = body.clone();
    another["prompt"] = "in the snow".into();
    let other = generate(&app, ANN, KEY, &another).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "{other:?}");
    assert_eq!(other.code(), "idempotency_key_reused");
    assert!(!other.replayed());
    // Another route with the key is another request too.
    let invoice = post(
        &app,
        "/api/payments/invoice",
        ANN,
        KEY,
        &json!({"pack_id": "small"}),
    )
    .await;
    assert_eq!(invoice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invoice.code(), "idempotency_key_reused");
    assert!(app.env.telegram.calls_of("createInvoiceLink").is_empty());

    assert_charged_once(&app).await;
    // The first answer is still what the key gives.
    let retry = generate(&app, ANN, KEY, &body).await;
    assert!(retry.replayed());
    assert_eq!(retry.body, first.body);
}

#[tokio::test]
async fn two_requests_with_one_key_at_once_are_carried_out_once() {
    let (app, body) = ann_with_a_model(100).await;
    // The first request to reach Replicate is still waiting for it when the other arrives.
    app.env
        .replicate
        .accept_then_hang_next("/predictions", Duration::from_millis(1500));

    let (a, b) = tokio::join!(
        generate(&app, ANN, KEY, &body),
        generate(&app, ANN, KEY, &body)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::CONFLICT],
        "{a:?} / {b:?}"
    );
    let (done, busy) = if a.status == StatusCode::ACCEPTED {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(busy.code(), "idempotency_key_in_progress");
    assert_eq!(busy.headers[header::RETRY_AFTER], "1");
    assert_charged_once(&app).await;

    // Retried after the second, it gets the first's answer.
    let retry = generate(&app, ANN, KEY, &body).await;
    assert!(retry.replayed());
    assert_eq!(retry.body, done.body);
    assert_eq!(predictions(&app), 1);
}

#[tokio::test]
async fn a_key_whose_request_is_running_answers_in_progress() {
    let (app, body) = ann_with_a_model(100).await;
    generate_once(&app, &body).await;
    // As while the first request runs, within its lease.
    mark_running(&app, "60 seconds").await;
    let busy = generate(&app, ANN, KEY, &body).await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{busy:?}");
    assert_eq!(busy.code(), "idempotency_key_in_progress");
    assert_eq!(busy.headers[header::RETRY_AFTER], "1");
    assert_charged_once(&app).await;
}

#[tokio::test]
async fn a_failed_answer_releases_the_key_so_the_retry_is_carried_out() {
    let (app, body) = ann_with_a_model(100).await;
    app.env
        .replicate
        .fail_next("/predictions", 500, "Replicate is down");

    let failed = generate(&app, ANN, KEY, &body).await;
    assert!(failed.status.is_server_error(), "{failed:?}");
    assert_eq!(app.balance(ANN).await, 100, "refunded");
    assert_eq!(key_rows(&app).await, 0, "the key was given back");

    let retry = generate(&app, ANN, KEY, &body).await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{retry:?}");
    assert!(!retry.replayed(), "carried out afresh");
    assert_eq!(app.balance(ANN).await, 95);
    assert_eq!(
        ledger(&app, ANN).await,
        vec![
            ("generation".to_owned(), -5),
            ("refund".to_owned(), 5),
            ("generation".to_owned(), -5)
        ]
    );
    assert_eq!(
        app.env.replicate.predictions().len(),
        1,
        "one prediction runs"
    );
    // And now the key holds the success.
    let again = generate(&app, ANN, KEY, &body).await;
    assert!(again.replayed());
    assert_eq!(again.body, retry.body);
    assert_eq!(app.balance(ANN).await, 95);
}

#[tokio::test]
async fn a_start_whose_outcome_is_unknown_is_kept_so_the_retry_pays_nothing_more() {
    let (app, body) = ann_with_a_model(100).await;
    // Replicate takes the prediction and answers 500, and looking for it fails too.
    let replicate = &app.env.replicate;
    replicate.accept_then_fail_next("/predictions", 500);
    replicate.fail_next("/predictions", 500, "Replicate is down");

    let first = generate_once(&app, &body).await;
    assert_eq!(first.json()["status"], "pending", "paid, not confirmed yet");
    let retry = generate(&app, ANN, KEY, &body).await;
    assert!(retry.replayed(), "{retry:?}");
    assert_eq!(retry.body, first.body);
    assert_charged_once(&app).await;
    assert_eq!(generations_of(&app, ANN).await, 1);
}

#[tokio::test]
async fn a_final_refusal_is_kept_and_replayed() {
    let (app, body) = ann_with_a_model(3).await;
    let poor = generate(&app, ANN, KEY, &body).await;
    assert_eq!(poor.status, StatusCode::PAYMENT_REQUIRED, "{poor:?}");
    let again = generate(&app, ANN, KEY, &body).await;
    assert_eq!(again.status, StatusCode::PAYMENT_REQUIRED);
    assert!(again.replayed());
    assert_eq!(again.body, poor.body);
    assert_eq!(predictions(&app), 0);
    assert_eq!(app.balance(ANN).await, 3);
}

#[tokio::test]
async fn an_interrupted_first_request_is_never_carried_out_again() {
    let (app, body) = ann_with_a_model(100).await;
    generate_once(&app, &body).await;
    // The Lambda was killed after charging, before it stored the answer: the row stays running
    // past its lease.
    mark_running(&app, "-1 second").await;

    let answer = generate(&app, ANN, KEY, &body).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{answer:?}");
    assert_eq!(answer.code(), "idempotency_key_interrupted");
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("may have been carried out"), "{message}");
    assert!(message.contains("GET /api/generations"), "{message}");
    assert!(message.contains("new key"), "{message}");
    assert!(answer.headers.get(header::RETRY_AFTER).is_none());
    assert_charged_once(&app).await;

    // A new key is a new request.
    let fresh = generate(&app, ANN, "another-key", &body).await;
    assert_eq!(fresh.status, StatusCode::ACCEPTED);
    assert_eq!(app.balance(ANN).await, 90);
}

#[tokio::test]
async fn keys_are_each_users_own() {
    let app = App::spawn().await;
    let (_, anns) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    let (_, bobs) = fixtures::user_with_ready_model(app.db(), BOB, 100).await;
    let ann = generate(&app, ANN, KEY, &generation(anns.id, "on a beach")).await;
    assert_eq!(ann.status, StatusCode::ACCEPTED);
    // Bob's request with the same key is his own: carried out, neither replayed nor refused.
    let bob = generate(&app, BOB, KEY, &generation(bobs.id, "on a beach")).await;
    assert_eq!(bob.status, StatusCode::ACCEPTED, "{bob:?}");
    assert!(!bob.replayed());
    assert_ne!(bob.json()["id"], ann.json()["id"]);
    assert_eq!(app.balance(ANN).await, 95);
    assert_eq!(app.balance(BOB).await, 95);
    assert_eq!(predictions(&app), 2);
}

#[tokio::test]
async fn a_key_older_than_a_day_counts_as_new_and_is_purged() {
    let (app, body) = ann_with_a_model(100).await;
    let first = generate_once(&app, &body).await;
    keys_sql(
        &app,
        "UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute'",
    )
    .await;

    let later = generate(&app, ANN, KEY, &body).await;
    assert_eq!(later.status, StatusCode::ACCEPTED, "{later:?}");
    assert!(!later.replayed(), "carried out anew");
    assert_ne!(later.json()["id"], first.json()["id"]);
    assert_eq!(app.balance(ANN).await, 90);
    assert_eq!(predictions(&app), 2);
    assert!(generate(&app, ANN, KEY, &body).await.replayed());

    // The housekeeping's purge deletes old keys only.
    keys_sql(
        &app,
        "INSERT INTO idempotency_keys (user_id, key, request_hash, created_at, lease_until)
         VALUES (101, 'old', sha256('x'), now() - interval '25 hours', now() - interval '25 hours')",
    )
    .await;
    let purged = shared::repo::idempotency::purge(&**app.db().conn().await.unwrap(), 100)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(key_rows(&app).await, 1);
}

#[tokio::test]
async fn a_bad_key_is_refused_with_400_and_nothing_done() {
    let (app, body) = ann_with_a_model(100).await;
    let long = "k".repeat(256);
    let bad = [
        HeaderValue::from_static(""),
        HeaderValue::from_str(&long).unwrap(),
        HeaderValue::from_static("two words"),
        HeaderValue::from_static("tab\there"),
        HeaderValue::from_bytes("clé".as_bytes()).unwrap(),
    ];
    for key in bad {
        let answer = send(
            &app,
            keyed("/api/generations", Some(ANN), Some(key.clone()), &body),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{key:?}: {answer:?}"
        );
        assert_eq!(answer.code(), "invalid_idempotency_key");
        assert_eq!(
            answer.json()["error"]["details"]["header"],
            "Idempotency-Key"
        );
    }
    let mut twice = keyed(
        "/api/generations",
        Some(ANN),
        Some(HeaderValue::from_static("a")),
        &body,
    );
    twice
        .headers_mut()
        .append("idempotency-key", HeaderValue::from_static("b"));
    assert_eq!(send(&app, twice).await.code(), "invalid_idempotency_key");
    // 255 visible characters are a key.
    let longest = "~".repeat(255);
    assert_eq!(
        generate(&app, ANN, &longest, &body).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(app.balance(ANN).await, 95);
    assert_eq!(predictions(&app), 1);
}

#[tokio::test]
async fn a_request_that_fails_auth_never_touches_the_key_table() {
    let (app, body) = ann_with_a_model(100).await;
    let key = Some(HeaderValue::from_static(KEY));
    let anonymous = send(&app, keyed("/api/generations", None, key.clone(), &body)).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let mut forged = keyed("/api/generations", None, key, &body);
    forged.headers_mut().insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("tma user=%7B%22id%22%3A101%7D&hash=00"),
    );
    assert_eq!(send(&app, forged).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(key_rows(&app).await, 0);
    // The real request with that key afterwards is carried out.
    generate_once(&app, &body).await;
}

#[tokio::test]
async fn promo_codes_and_trainings_take_a_key_too() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 1000).await;
    // A promo code that does not exist is a final 404: kept, replayed.
    let unknown = post(&app, "/api/promo", ANN, "promo-1", &json!({"code": "NOPE"})).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let again = post(&app, "/api/promo", ANN, "promo-1", &json!({"code": "NOPE"})).await;
    assert!(again.replayed());
    assert_eq!(again.body, unknown.body);

    let urls: Vec<String> = (0..10)
        .map(|i| format!("https://cdn.example.com/{i}.jpg"))
        .collect();
    let train = json!({"name": "Me", "photo_urls": urls});
    let first = post(&app, "/api/train", ANN, "train-1", &train).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{first:?}");
    let retry = post(&app, "/api/train", ANN, "train-1", &train).await;
    assert!(retry.replayed(), "{retry:?}");
    assert_eq!(retry.body, first.body);
    let models = app.get("/api/models", ANN).await;
    assert_eq!(models.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(ledger(&app, ANN).await.len(), 1, "one training charged");
}

#[tokio::test]
async fn the_runtime_role_claims_stores_and_purges_keys() {
    use shared::repo::idempotency::{self, Claimed, KeyClaim, StoredAnswer};
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 0).await;
    let mut url: url::Url = app.env.db.url.parse().unwrap();
    url.set_username("dream_photo_app").unwrap();
    let runtime = shared::db::Db::connect_lazy(&shared::config::DatabaseConfig {
        url: Some(shared::config::Secret::new(url.as_str())),
        pool_size: 1,
        iam_auth: false,
        aws_region: None,
    })
    .unwrap();
    let conn = runtime.conn().await.expect("the runtime role logs in");
    let client = &**conn;
    let hash = [7u8; 32];
    let claim = KeyClaim {
        user_id: ANN,
        key: "k",
        request_hash: &hash,
    };
    let Claimed::New(held) = idempotency::claim(client, &claim, 90.0).await.unwrap() else {
        panic!("a new key is claimed");
    };
    let answer = StoredAnswer {
        status: 200,
        content_type: Some("application/json".into()),
        body: b"{}".to_vec(),
    };
    assert!(idempotency::store(client, &claim, held, &answer)
        .await
        .unwrap());
    assert_eq!(
        idempotency::claim(client, &claim, 90.0).await.unwrap(),
        Claimed::Done(answer)
    );
    assert_eq!(idempotency::purge(client, 10).await.unwrap(), 0);
}

#[test]
fn the_spec_documents_the_key_on_each_opted_in_operation() {
    let spec = crate::openapi::spec();
    for path in [
        "/api/train",
        "/api/generations",
        "/api/payments/invoice",
        "/api/promo",
    ] {
        let op = &spec["paths"][path]["post"];
        let params = op["parameters"].as_array().expect("parameters");
        let key: Vec<_> = params
            .iter()
            .filter(|p| p["name"] == "Idempotency-Key")
            .collect();
        assert_eq!(key.len(), 1, "{path}");
        assert_eq!(key[0]["in"], "header");
        assert_eq!(key[0]["required"], false);
        assert_eq!(key[0]["schema"]["maxLength"], 255);
        let text = |status: &str| {
            op["responses"][status]["description"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(text("400").contains("invalid_idempotency_key"), "{path}");
        assert!(
            text("409").contains("idempotency_key_in_progress"),
            "{path}"
        );
        assert!(
            text("409").contains("idempotency_key_interrupted"),
            "{path}"
        );
        assert!(text("422").contains("idempotency_key_reused"), "{path}");
        assert!(op["responses"]["409"]["headers"]["Retry-After"].is_object());
        let success = op["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .expect("a success")
            .1;
        assert!(
            success["headers"]["Idempotent-Replayed"].is_object(),
            "{path}"
        );
    }
    // What was already said of a status is kept.
    assert!(
        spec["paths"]["/api/promo"]["post"]["responses"]["409"]["description"]
            .as_str()
            .unwrap()
            .contains("(`conflict`)")
    );
    // Reads take no key.
    assert!(spec["paths"]["/api/generations"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["name"] != "Idempotency-Key"));
}

#[tokio::test]
async fn erasing_the_account_deletes_its_stored_answers() {
    let (app, body) = ann_with_a_model(100).await;
    generate_once(&app, &body).await;
    assert_eq!(key_rows(&app).await, 1);
    let erased = app.delete("/api/me", ANN).await;
    assert_eq!(erased.status, StatusCode::OK, "{erased:?}");
    assert_eq!(
        key_rows(&app).await,
        0,
        "the prompt is not kept in a stored answer"
    );
}
