//! Every failure of the API as `{"error": {"code", "message", "details"?}}` with its status, decided
//! here in one place: [`From<ServiceError>`] for the use cases' errors, and the extractors below for
//! bodies, paths and queries that cannot be read (axum's own rejections are plain text).
//!
//! | status | code | when |
//! | --- | --- | --- |
//! | 400 | `malformed_json`, `bad_request` | a body that is not JSON, a path or query that does not parse |
//! | 401 | `missing_auth`, `invalid_init_data`, `expired_init_data` | see [`crate::auth`] |
//! | 402 | `insufficient_tokens` | the balance does not cover the cost (`details.available`, `details.required`) |
//! | 403 | `forbidden`, `blocked` | not an admin; an account blocked by an admin |
//! | 404 | `not_found`, `no_route` | no such resource (or not the caller's), no such route |
//! | 405 | `method_not_allowed` | |
//! | 409 | `conflict` | the resource is in a state that does not allow it |
//! | 413 | `payload_too_large` | a body over [`crate::MAX_BODY_BYTES`] |
//! | 415 | `unsupported_media_type` | |
//! | 422 | `validation_failed` | a rule broken; `details.field` names the field |
//! | 429 | `rate_limited` | `details.retry_after` seconds, also in `Retry-After` |
//! | 502 | `upstream_error` | Replicate or Telegram refused |
//! | 503 | `not_configured`, `temporarily_unavailable` | a part is not configured; a transient failure |

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use shared::db::DbError;
use shared::domain::rules::RuleError;
use shared::errors::Transient;
use shared::services::Unavailable;
use shared::telegram::TelegramError;
use shared::telemetry::error_chain;
use shared::usecases::ServiceError;
use web::ApiError;

/// An API failure: the JSON error, and a `Retry-After` for rate limits.
#[derive(Debug, Clone)]
pub struct Error {
    pub api: ApiError,
    pub retry_after: Option<i64>,
}

pub type ApiResult<T> = Result<T, Error>;

impl Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(status, code, message).into()
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.api.details = Some(details);
        self
    }

    /// 422: `field` breaks a rule.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("{field}: {message}"),
        )
        .with_details(json!({"field": field, "reason": message}))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::bad_request(message).into()
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::not_found(what).into()
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::forbidden(message).into()
    }

    pub fn rate_limited(action: &str, retry_after: i64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many {action} requests; try again in {retry_after} s"),
            )
            .with_details(json!({"retry_after": retry_after, "action": action}))
        }
    }

    fn transient(error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::warn!(error = %error_chain(error), "transient failure");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "a service we depend on is not answering; try again shortly",
        )
    }

    fn upstream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "upstream_error", message)
    }

    fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        ApiError::internal(error).into()
    }
}

impl From<ApiError> for Error {
    fn from(api: ApiError) -> Self {
        Self {
            api,
            retry_after: None,
        }
    }
}

impl From<Unavailable> for Error {
    fn from(u: Unavailable) -> Self {
        ApiError::from(u).into()
    }
}

impl From<DbError> for Error {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotConfigured => ApiError::from(e).into(),
            e if e.is_transient() => Self::transient(&e),
            e => Self::internal(&e),
        }
    }
}

impl From<shared::storage::StorageError> for Error {
    fn from(e: shared::storage::StorageError) -> Self {
        use shared::storage::StorageError;
        match e {
            StorageError::BadSignature => Self::new(
                StatusCode::FORBIDDEN,
                "bad_signature",
                "the link is invalid or has expired; ask the API for a new one",
            ),
            StorageError::NotFound(_) => Self::not_found("object"),
            e if e.is_transient() => Self::transient(&e),
            e => Self::internal(&e),
        }
    }
}

impl From<TelegramError> for Error {
    fn from(e: TelegramError) -> Self {
        if e.is_transient() {
            Self::transient(&e)
        } else {
            tracing::warn!(error = %error_chain(&e), "Telegram refused");
            Self::upstream("Telegram refused the request")
        }
    }
}

/// The field a broken rule is about.
pub fn rule_field(rule: &RuleError) -> &'static str {
    match rule {
        RuleError::ModelName => "name",
        RuleError::Prompt | RuleError::PromptRefused | RuleError::PromptUnsafe => "prompt",
        RuleError::ImageCount => "count",
        RuleError::PhotoCount(_) | RuleError::PhotoTooLarge | RuleError::NotAnImage => "photos",
        RuleError::ModelNotReady => "model_id",
        RuleError::AspectRatio => "aspect_ratio",
        RuleError::FreeRedoNotOffered | RuleError::FreeRedoUsed => "id",
    }
}

impl From<RuleError> for Error {
    fn from(rule: RuleError) -> Self {
        match rule {
            // Not the input but the generation's state refuses these.
            RuleError::FreeRedoNotOffered => Self::new(
                StatusCode::CONFLICT,
                "free_redo_not_offered",
                rule.to_string(),
            ),
            RuleError::FreeRedoUsed => {
                Self::new(StatusCode::CONFLICT, "free_redo_used", rule.to_string())
            }
            rule => Self::invalid(rule_field(&rule), rule.to_string()),
        }
    }
}

impl From<shared::usecases::styles::InvalidField> for Error {
    fn from(e: shared::usecases::styles::InvalidField) -> Self {
        Self::invalid(e.field, e.message)
    }
}

/// The one mapping of the use cases' errors to statuses.
impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        if let ServiceError::Db(db) = e {
            return db.into();
        }
        if e.is_transient() {
            return Self::transient(&e);
        }
        match e {
            ServiceError::Rule(rule) => rule.into(),
            ServiceError::InsufficientTokens {
                available,
                required,
            } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_tokens",
                format!("not enough tokens: {available} left, {required} needed"),
            )
            .with_details(json!({"available": available, "required": required})),
            ServiceError::NotFound(what) => Self::not_found(what),
            ServiceError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            ServiceError::Forbidden => Self::forbidden("only an owner may do this"),
            ServiceError::Unavailable(u) => u.into(),
            ServiceError::Db(db) => db.into(),
            ServiceError::Replicate(r) => {
                tracing::warn!(error = %error_chain(&r), "Replicate refused");
                Self::upstream(format!("Replicate refused the request: {r}"))
            }
            ServiceError::Upstream(message) => Self::upstream(message),
            e @ (ServiceError::Queue(_) | ServiceError::Ledger(_) | ServiceError::Outcome(_)) => {
                Self::internal(&e)
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = self.api.into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("tma"));
        }
        response
    }
}

pub(crate) fn body_rejection(rejection: BytesRejection) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        Error::bad_request(format!(
            "the body could not be read: {}",
            rejection.body_text()
        ))
    }
}

pub fn too_large() -> Error {
    Error::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the request body is larger than {:.1} MB; upload big photo sets as photo_urls",
            crate::MAX_BODY_BYTES as f64 / 1_000_000.0
        ),
    )
}

/// The first string anywhere in `value` that holds a NUL character (Postgres cannot store one),
/// as a JSON path.
fn nul_path(value: &Value, path: &mut Vec<String>) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
            path.push(format!("[{i}]"));
            let found = nul_path(v, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(k, v)| {
            path.push(k.clone());
            let found = k.contains('\0') || nul_path(v, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

/// Text must not hold NUL characters (Postgres cannot store them).
pub fn check_text(field: &str, value: &str) -> ApiResult<()> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// Reads a JSON body: 415 without a JSON content type, 400 when it is not JSON, 422 when it does not
/// have the expected shape (serde's message names the field), 413 when too large.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let mut path = Vec::new();
    if nul_path(&value, &mut path) {
        return Err(Error::invalid(
            &json_path(&path),
            "must not contain NUL characters",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let segments: Vec<String> = e
            .path()
            .iter()
            .map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                serde_path_to_error::Segment::Map { key } => key.clone(),
                serde_path_to_error::Segment::Enum { variant } => variant.clone(),
                serde_path_to_error::Segment::Unknown => "?".to_owned(),
            })
            .collect();
        shape_error(segments, &e.inner().to_string())
    })
}

/// `photos[3].size` from its segments (`photos`, `[3]`, `size`).
fn json_path(segments: &[String]) -> String {
    let mut path = String::new();
    for segment in segments {
        if !path.is_empty() && !segment.starts_with('[') {
            path.push('.');
        }
        path.push_str(segment);
    }
    path
}

/// 422 naming the field at fault (its JSON path, or the query parameter) and what was expected.
/// serde reports a missing field at its parent: the path is completed with its name.
fn shape_error(mut segments: Vec<String>, reason: &str) -> Error {
    let reason = reason
        .split(" at line ")
        .next()
        .unwrap_or(reason)
        .to_owned();
    if let Some(missing) = reason
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        segments.push(missing.to_owned());
    }
    let field = json_path(&segments);
    let field = if field.is_empty() {
        "body".to_owned()
    } else {
        field
    };
    Error::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        format!("{field}: {reason}"),
    )
    .with_details(json!({"field": field, "reason": reason}))
}

/// `application/json` or `application/*+json`, with any parameters.
pub fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON body, with our errors.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

/// Path parameters, with our errors.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e: PathRejection| {
                Error::bad_request(format!("the path is not valid: {}", e.body_text()))
            })
    }
}

/// A query string, with our errors.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|e| {
                let segments = e
                    .path()
                    .iter()
                    .map(|segment| segment.to_string())
                    .filter(|s| s != "?")
                    .collect();
                shape_error(segments, &e.inner().to_string())
            })
    }
}

/// The JSON 404 for paths no route serves.
pub async fn no_route() -> Error {
    Error::new(StatusCode::NOT_FOUND, "no_route", "no such route")
}

pub async fn method_not_allowed() -> Error {
    Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not answer this method",
    )
}
