//! The API under test: the router over a fresh database, the fake Bot API and the fake Replicate,
//! and requests signed as the Mini App would send them.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::queue::TrainingJob;
use testkit::router::RouterAnswer;
use testkit::{TestEnv, BOT_TOKEN};

use crate::views::{ErrorAnswer, ErrorBody};
use testkit::stored;

pub use testkit::{fixtures, ADMIN_ID};

pub struct App {
    pub env: TestEnv,
    pub router: axum::Router,
    pub services: shared::services::Services,
    /// Kept open so queued training jobs are accepted.
    pub jobs: tokio::sync::mpsc::UnboundedReceiver<TrainingJob>,
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Answer {
    /// The body as `T`; a body of another shape fails the test, showing it.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("not the expected answer ({e}): {self:?}"))
    }

    /// The error of an error answer.
    pub fn error(&self) -> ErrorBody {
        self.json::<ErrorAnswer>().error
    }

    /// The error code, or "" when the answer is no error.
    pub fn code(&self) -> String {
        serde_json::from_value::<ErrorAnswer>(self.body.clone())
            .map(|answer| answer.error.code)
            .unwrap_or_default()
    }
}

/// `Authorization: tma …` for `user_id`, signed with the test bot's token now.
pub fn tma(user_id: i64) -> String {
    tma_signed_at(user_id, chrono::Utc::now().timestamp(), &[])
}

pub fn tma_signed_at(user_id: i64, auth_date: i64, extra: &[(&str, &str)]) -> String {
    let user = shared::auth::user_json(
        user_id,
        &format!("User{user_id}"),
        Some(&format!("user{user_id}")),
    );
    let mut fields = vec![
        ("user", user.as_str()),
        ("query_id", "AAHdF6IQAAAAAN0XohDhrOrc"),
    ];
    fields.extend_from_slice(extra);
    format!("tma {}", shared::auth::sign(BOT_TOKEN, &fields, auth_date))
}

impl App {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}, api::RateLimits::default()).await
    }

    /// The API with one variable of its environment set to `value` (removed when `None`), and the
    /// default rate limits.
    pub async fn spawn_with_var(name: &str, value: Option<&str>) -> Self {
        Self::spawn_with(|env| env.set(name, value), api::RateLimits::default()).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut TestEnv), limits: api::RateLimits) -> Self {
        let mut env = TestEnv::start().await;
        configure(&mut env);
        let (services, jobs) = env.services();
        let router = api::router(api::State::with_limits(services.clone(), limits));
        Self {
            env,
            router,
            services,
            jobs,
        }
    }

    pub fn db(&self) -> &shared::db::Db {
        self.env.db()
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let RouterAnswer {
            status,
            headers,
            body,
        } = testkit::router::send(&self.router, request).await;
        Answer {
            status,
            body,
            headers,
        }
    }

    /// A JSON request (no body when `body` is `None`) as `user` (unauthenticated when `None`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<i64>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(user) = user {
            request = request.header("authorization", tma(user));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    pub async fn get(&self, path: &str, user: i64) -> Answer {
        self.call(Method::GET, path, Some(user), None).await
    }

    pub async fn post(&self, path: &str, user: i64, body: Value) -> Answer {
        self.call(Method::POST, path, Some(user), Some(body)).await
    }

    /// `POST /api/generations` as `user`: `count` photos of `prompt` by the model `model_id`.
    pub async fn generate(&self, user: i64, model_id: i64, prompt: &str, count: u32) -> Answer {
        let body = serde_json::json!({"model_id": model_id, "prompt": prompt, "count": count});
        self.post("/api/generations", user, body).await
    }

    /// A POST of raw bytes (a form, malformed JSON) as `user`.
    pub async fn post_bytes(
        &self,
        path: &str,
        user: i64,
        content_type: impl AsRef<str>,
        body: impl Into<Body>,
    ) -> Answer {
        let request = Request::post(path)
            .header("authorization", tma(user))
            .header("content-type", content_type.as_ref())
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    /// A POST without a body (an action such as blocking a user).
    pub async fn post_empty(&self, path: &str, user: i64) -> Answer {
        self.call(Method::POST, path, Some(user), None).await
    }

    pub async fn patch(&self, path: &str, user: i64, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(user), Some(body)).await
    }

    pub async fn put(&self, path: &str, user: i64, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(user), Some(body)).await
    }

    pub async fn delete(&self, path: &str, user: i64) -> Answer {
        self.call(Method::DELETE, path, Some(user), None).await
    }

    pub async fn balance(&self, user_id: i64) -> i64 {
        stored::balance(self.db(), user_id).await
    }
}

/// A `multipart/form-data` body: text fields, then files `(field, filename, content type, bytes)`.
pub fn multipart(
    texts: &[(&str, &str)],
    files: &[(&str, &str, &str, Vec<u8>)],
) -> (String, Vec<u8>) {
    let boundary = "dreamphotoboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in texts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    for (name, filename, content_type, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// A distinct small JPEG-looking file (the fakes never decode images).
pub fn jpeg(n: u8) -> Vec<u8> {
    let mut bytes = testkit::fake_jpeg();
    bytes.insert(20, n);
    bytes
}

pub fn method(name: &str) -> Method {
    Method::from_bytes(name.to_ascii_uppercase().as_bytes()).unwrap()
}
