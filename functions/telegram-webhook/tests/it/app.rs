//! The bot as Telegram sees it: the webhook router of one or more "Lambda instances" (each with its
//! own one-connection pool), a real Postgres, and the fake Bot API and Replicate.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use shared::repo::users;
use testkit::router::{self, RouterAnswer};
use testkit::updates::{self, TgUser};
use testkit::{Button, Invoice, PreCheckoutAnswer, TestEnv, WEBHOOK_SECRET};

pub struct App {
    pub env: TestEnv,
    instances: Vec<axum::Router>,
    pub jobs: tokio::sync::mpsc::UnboundedReceiver<shared::queue::TrainingJob>,
}

impl App {
    pub async fn spawn() -> Self {
        Self::with_env(TestEnv::start().await)
    }

    /// The bot with one variable of its environment set to `value` (removed when `None`).
    pub async fn spawn_with_var(name: &str, value: Option<&str>) -> Self {
        let mut env = TestEnv::start().await;
        env.set(name, value);
        Self::with_env(env)
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
        let router = &self.instances[instance % self.instances.len()];
        let RouterAnswer { status, body, .. } =
            router::send(router, router::telegram_update(update, secret)).await;
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

    /// Posts an update whose response never reaches Telegram (the connection drops): a method named
    /// in it is not called.
    pub async fn post_unanswered(&self, update: &Value) -> RouterAnswer {
        router::send(
            &self.instances[0],
            router::telegram_update(update, Some(WEBHOOK_SECRET)),
        )
        .await
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

    /// How the bot answered the last pre-checkout query.
    pub fn pre_checkout_answer(&self) -> PreCheckoutAnswer {
        self.env
            .telegram
            .last_call("answerPreCheckoutQuery")
            .pre_checkout_answer()
    }

    /// `from` sends `text` (update `update_id`); the last text the bot sent them since.
    pub async fn says(&self, update_id: i64, from: &TgUser, text: &str) -> String {
        self.send(&updates::text(update_id, from, text)).await;
        self.last_text(from.id)
    }

    /// `user` sends `/start` (update `update_id`), expected handled.
    pub async fn started(&self, update_id: i64, user: TgUser) -> TgUser {
        self.send(&updates::text(update_id, &user, "/start")).await;
        user
    }

    /// A press on an inline button, expected handled.
    pub async fn press(&self, update_id: i64, from: &TgUser, data: &str) -> StatusCode {
        self.send(&updates::callback(update_id, from, data)).await
    }

    /// `from` presses the button of `pack` under /buy (update `update_id`); the invoice the bot sent.
    pub async fn invoice_for(&self, update_id: i64, from: &TgUser, pack: &str) -> Invoice {
        self.press(update_id, from, &format!("b:{pack}")).await;
        self.env.telegram.last_call("sendInvoice").invoice()
    }

    /// The styles (the inactive ones too when asked).
    pub async fn styles(&self, include_inactive: bool) -> Vec<shared::repo::styles::Style> {
        let conn = self.env.db().conn().await.unwrap();
        shared::repo::styles::list(&**conn, include_inactive)
            .await
            .unwrap()
    }

    /// The user's newest model.
    pub async fn newest_model(&self, user_id: i64) -> shared::repo::models::Model {
        let conn = self.env.db().conn().await.unwrap();
        shared::repo::models::list_for_user(&**conn, user_id, shared::repo::Page::first(1))
            .await
            .unwrap()
            .pop()
            .expect("the user has a model")
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

/// The buttons of the last message with inline buttons sent to a chat: (label, callback data).
pub fn last_buttons(app: &App, chat: i64) -> Vec<(String, String)> {
    app.env
        .telegram
        .sent_to(chat)
        .iter()
        .rev()
        .find(|c| c.has_inline_keyboard())
        .map(|call| call.buttons().iter().map(Button::pressed).collect())
        .unwrap_or_default()
}

/// A webhook response that carries the reply (Telegram calls `method` with the rest).
#[derive(Debug, Deserialize)]
pub struct ReplyInBody {
    pub method: String,
    pub chat_id: i64,
    pub parse_mode: Option<String>,
    pub text: String,
}

/// A refused webhook call: `{"error": {"code", "message"}}`.
#[derive(Debug, Deserialize)]
pub struct WebhookError {
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl WebhookError {
    pub fn of(body: &Value) -> ErrorBody {
        serde_json::from_value::<Self>(body.clone())
            .unwrap_or_else(|e| panic!("not an error answer ({e}): {body}"))
            .error
    }
}
