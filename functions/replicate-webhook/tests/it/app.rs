//! The webhook's router in process over the test environment, as every module of this binary
//! drives it.

use axum::http::StatusCode;
use serde_json::Value;
use shared::metrics::{self, Captured};
use testkit::{router, TestEnv};

pub struct App {
    pub env: TestEnv,
    router: axum::Router,
}

impl App {
    pub async fn spawn() -> Self {
        let env = TestEnv::start().await;
        let (services, _jobs) = env.services();
        let router = replicate_webhook::router(replicate_webhook::State::new(services));
        Self { env, router }
    }

    pub async fn post_raw(
        &self,
        headers: Vec<(String, String)>,
        body: String,
    ) -> (StatusCode, Value) {
        self.post_raw_to("/replicate/webhook", headers, body).await
    }

    pub async fn post_raw_to(
        &self,
        path: &str,
        headers: Vec<(String, String)>,
        body: String,
    ) -> (StatusCode, Value) {
        let answer = router::send(&self.router, router::post(path, headers, body)).await;
        (answer.status, answer.body)
    }

    /// Delivers a signed webhook and expects it taken (200).
    pub async fn deliver_ok(&self, webhook_id: &str, job: &Value) {
        assert_eq!(
            self.deliver(webhook_id, job).await,
            StatusCode::OK,
            "{webhook_id} was not taken"
        );
    }

    /// Delivers a signed webhook, expects it taken, and returns the metrics its handling emitted.
    pub async fn deliver_measured(&self, webhook_id: &str, job: &Value) -> Captured {
        let (status, captured) = metrics::capture(self.deliver(webhook_id, job)).await;
        assert_eq!(status, StatusCode::OK, "{webhook_id} was not taken");
        captured
    }

    pub async fn deliver(&self, webhook_id: &str, job: &Value) -> StatusCode {
        let (headers, body) = self.env.signed_replicate_webhook(webhook_id, job);
        self.post_raw(headers, body).await.0
    }
}
