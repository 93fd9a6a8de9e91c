//! The bot as Telegram sees it: the webhook router of one or more "Lambda instances" (each with its
//! own one-connection pool), a real Postgres, and the fake Bot API and Replicate.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use shared::repo::users;
use testkit::{TestEnv, WEBHOOK_SECRET};
use tower::ServiceExt;

pub struct App {
    pub env: TestEnv,
    instances: Vec<axum::Router>,
    pub jobs: tokio::sync::mpsc::UnboundedReceiver<shared::queue::TrainingJob>,
}

impl App {
    pub async fn spawn() -> Self {
        Self::with_env(TestEnv::start().await)
    }

    pub fn with_env(env: TestEnv) -> Self {
        let (queue, jobs) = shared::queue::TrainingQueue::in_process();
        let instances = (0..4)
            .map(|_| {
                let services =
                    shared::services::Services::new(env.config(), queue.clone()).unwrap();
                telegram_webhook::router(telegram_webhook::State::new(services))
            })
            .collect();
        Self {
            env,
            instances,
            jobs,
        }
    }

    pub async fn post_to(
        &self,
        instance: usize,
        update: &Value,
        secret: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request =
            Request::post("/telegram/webhook").header("content-type", "application/json");
        if let Some(secret) = secret {
            request = request.header("x-telegram-bot-api-secret-token", secret);
        }
        let router = self.instances[instance % self.instances.len()].clone();
        let response = router
            .oneshot(request.body(Body::from(update.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            self.execute_reply(&body).await;
        }
        (status, body)
    }

    /// Does what Telegram does with a webhook response that names a method: calls it.
    async fn execute_reply(&self, body: &Value) {
        let Some(method) = body["method"].as_str() else {
            return;
        };
        let url = format!(
            "{}/bot{}/{method}",
            self.env.telegram.url(),
            testkit::BOT_TOKEN
        );
        let response = reqwest::Client::new()
            .post(url)
            .json(body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    pub async fn post(&self, update: &Value, secret: Option<&str>) -> (StatusCode, Value) {
        self.post_to(0, update, secret).await
    }

    /// Delivers an update and expects it handled.
    pub async fn send(&self, update: &Value) -> StatusCode {
        let (status, body) = self.post(update, Some(WEBHOOK_SECRET)).await;
        assert!(
            status.is_success(),
            "the update was not handled: {status} {body}"
        );
        status
    }

    pub async fn user(&self, id: i64) -> Option<users::User> {
        users::get(&**self.env.db().conn().await.unwrap(), id)
            .await
            .unwrap()
    }

    pub fn last_text(&self, chat: i64) -> String {
        self.env.telegram.last_text_to(chat).unwrap_or_default()
    }

    /// Every text sent to a chat, oldest first.
    pub fn texts(&self, chat: i64) -> Vec<String> {
        self.env
            .telegram
            .sent_to(chat)
            .iter()
            .map(|c| c.text().to_owned())
            .collect()
    }
}

/// The inline buttons of a Bot API call: (label, callback data).
pub fn inline_buttons(call: &testkit::SentCall) -> Vec<(String, String)> {
    call.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_owned(),
                b["callback_data"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The buttons of the last message with inline buttons sent to a chat.
pub fn last_buttons(app: &App, chat: i64) -> Vec<(String, String)> {
    app.env
        .telegram
        .sent_to(chat)
        .iter()
        .rev()
        .find(|c| c.body["reply_markup"]["inline_keyboard"].is_array())
        .map(inline_buttons)
        .unwrap_or_default()
}
