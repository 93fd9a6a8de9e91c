//! A bad request says which field is at fault and what was expected, in one shape for every route:
//! `422 {"error": {"code": "validation_failed", "details": {"field", "reason"}}}`, the field as a JSON
//! path into the body (`photos[0].size`) or the query parameter's name.

use axum::http::StatusCode;
use serde_json::json;

use crate::app::{fixtures, App};

const ANN: i64 = 8101;

fn field_and_reason(answer: &crate::app::Answer) -> (String, String) {
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.code(), "validation_failed", "{answer:?}");
    let details = &answer.body["error"]["details"];
    (
        details["field"].as_str().unwrap_or_default().to_owned(),
        details["reason"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn body_errors_name_the_json_path_of_the_field() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 100).await;

    let answer = app
        .post(
            "/api/generations",
            ANN,
            json!({"model_id": "seven", "prompt": "a", "count": 1}),
        )
        .await;
    let (field, reason) = field_and_reason(&answer);
    assert_eq!(field, "model_id");
    assert!(reason.contains("expected i64"), "{reason}");

    let answer = app
        .post("/api/generations", ANN, json!({"prompt": "a", "count": 1}))
        .await;
    assert_eq!(
        field_and_reason(&answer),
        ("model_id".to_owned(), "missing field `model_id`".to_owned())
    );

    let answer = app
        .post(
            "/api/uploads",
            ANN,
            json!({"photos": [{"content_type": "image/jpeg", "size": 10}, {"content_type": "image/jpeg", "size": "big"}]}),
        )
        .await;
    let (field, _) = field_and_reason(&answer);
    assert_eq!(field, "photos[1].size");

    let answer = app
        .post("/api/uploads", ANN, json!({"photos": [{"size": 10}]}))
        .await;
    assert_eq!(field_and_reason(&answer).0, "photos[0].content_type");

    let answer = app.post("/api/promo", ANN, json!("hello")).await;
    assert_eq!(field_and_reason(&answer).0, "body");
}

#[tokio::test]
async fn query_errors_are_422s_naming_the_parameter_whatever_is_wrong() {
    let app = App::spawn().await;
    fixtures::user(app.db(), ANN, 100).await;
    for query in ["limit=abc", "limit=500", "limit=0", "limit=-1", "limit=1.5"] {
        let answer = app.get(&format!("/api/models?{query}"), ANN).await;
        assert_eq!(field_and_reason(&answer).0, "limit", "{query}");
    }
    let answer = app.get("/api/generations?cursor=x", ANN).await;
    assert_eq!(field_and_reason(&answer).0, "cursor");
    // Unknown parameters are ignored; a good page is a page.
    let answer = app.get("/api/models?limit=5&utm=x", ANN).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
}
