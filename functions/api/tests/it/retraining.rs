//! `POST /api/models/{id}/retrain`: a ready model trained again with the photos it carries and
//! those given, at the retraining price; bad requests change nothing.

use crate::app::{fixtures, App};
use axum::http::StatusCode;
use serde_json::json;
use shared::domain::status::ModelStatus;
use testkit::stored;

const ANN: i64 = 101;
const BOB: i64 = 202;

fn urls(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("https://cdn.example.com/more-{i}.jpg"))
        .collect()
}

#[tokio::test]
async fn a_ready_model_is_retrained_with_the_photos_it_carries_and_more() {
    let mut app = App::spawn().await;
    // The ready fixture was trained on 10 Telegram photos, all still on Telegram.
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    let path = format!("/api/models/{}/retrain", model.id);
    let answer = app.post(&path, ANN, json!({"photo_urls": urls(3)})).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{answer:?}");
    let new_id = answer.body["id"].as_i64().unwrap();
    assert_eq!(answer.body["retrain_of"], model.id);
    assert_eq!(answer.body["status"], "queued");
    assert_eq!(answer.body["photo_count"], 13);
    assert_eq!(answer.body["cost_tokens"], 80);
    assert_eq!(answer.body["trigger_word"], model.trigger_word.as_str());
    assert_eq!(app.balance(ANN).await, 20);
    // The old model stays until the new one is ready.
    assert_eq!(
        stored::model(app.db(), model.id).await.status,
        ModelStatus::Ready
    );
    assert_eq!(app.jobs.try_recv().unwrap().model_id, new_id);

    // A second retraining while this one runs: refused, nothing charged.
    let again = app.post(&path, ANN, json!({"photo_urls": urls(1)})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert_eq!(app.balance(ANN).await, 20);
}

#[tokio::test]
async fn a_retraining_request_that_breaks_a_rule_changes_nothing() {
    let app = App::spawn().await;
    let (_, model) = fixtures::user_with_ready_model(app.db(), ANN, 100).await;
    let (_, bobs) = fixtures::user_with_ready_model(app.db(), BOB, 100).await;
    let draft = fixtures::draft_model(app.db(), ANN, 10).await;
    let mine = format!("/api/models/{}/retrain", model.id);
    let cases = [
        (mine.clone(), json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            mine.clone(),
            json!({"photo_urls": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        // 10 carried + 11 is more than 20.
        (
            mine.clone(),
            json!({"photo_urls": urls(11)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            mine.clone(),
            json!({"photo_urls": urls(1), "upload_ids": ["u"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            mine.clone(),
            json!({"photo_urls": ["http://127.0.0.1/a.jpg"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            format!("/api/models/{}/retrain", bobs.id),
            json!({"photo_urls": urls(1)}),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/models/{}/retrain", draft.id),
            json!({"photo_urls": urls(1)}),
            StatusCode::CONFLICT,
        ),
        (
            "/api/models/999/retrain".to_owned(),
            json!({"photo_urls": urls(1)}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, body, status) in cases {
        let answer = app.post(&path, ANN, body.clone()).await;
        assert_eq!(answer.status, status, "{path} {body}: {answer:?}");
        assert!(!answer.error().message.is_empty());
    }
    assert_eq!(app.balance(ANN).await, 100);
    assert_eq!(stored::retrainings(app.db()).await, 0);

    // Too few tokens: a 402, nothing started.
    fixtures::set_tokens_left(app.db(), ANN, 50).await;
    let poor = app.post(&mine, ANN, json!({"photo_urls": urls(1)})).await;
    assert_eq!(poor.status, StatusCode::PAYMENT_REQUIRED, "{poor:?}");
}
