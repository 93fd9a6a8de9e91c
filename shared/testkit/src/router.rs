//! Requests to a function's router in process, as API Gateway would pass them on.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

/// What a router answered; a body that is not JSON reads as `null`.
pub struct RouterAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn send(router: &axum::Router, request: Request<Body>) -> RouterAnswer {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("the whole body");
    RouterAnswer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A POST of `body` with these headers (e.g. a signed Replicate webhook from
/// [`crate::TestEnv::signed_replicate_webhook`]).
pub fn post(path: &str, headers: Vec<(String, String)>, body: String) -> Request<Body> {
    let mut request = Request::post(path);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body(Body::from(body)).expect("a request")
}

/// A Telegram update as Telegram posts it, with the webhook's secret header when given.
pub fn telegram_update(update: &Value, secret: Option<&str>) -> Request<Body> {
    let mut request = Request::post("/telegram/webhook").header("content-type", "application/json");
    if let Some(secret) = secret {
        request = request.header("x-telegram-bot-api-secret-token", secret);
    }
    request
        .body(Body::from(update.to_string()))
        .expect("a request")
}
