//! The HTTP plumbing the three HTTP functions share: errors as the JSON body
//! `{"error": {"code", "message", "details"?}}` with their status, as an axum response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use shared::db::DbError;
use shared::services::Unavailable;
use shared::telemetry::error_chain;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `not_found`, `insufficient_tokens`.
    pub code: String,
    /// A sentence for a person.
    pub message: String,
    /// Extra structure, e.g. the fields that failed validation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// A failure to answer with: its status and the error body's fields.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// An unexpected failure: the cause chain is logged once here, the client gets a generic message.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %error_chain(error), "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side; try again",
        )
    }
}

impl From<Unavailable> for ApiError {
    fn from(u: Unavailable) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_configured",
            u.to_string(),
        )
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotConfigured => Unavailable {
                what: "the database",
                var: "DATABASE_URL",
            }
            .into(),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// Serves `app` on Lambda (API Gateway events): each request inside its invocation, so every log
/// line carries its request id and whether it is the cold start. What the three HTTP functions'
/// mains hand their router to.
pub async fn run_on_lambda(app: axum::Router) -> Result<(), lambda_http::Error> {
    use lambda_http::tower::ServiceExt;
    use lambda_http::RequestExt;
    lambda_http::run(lambda_http::service_fn(
        move |request: lambda_http::Request| {
            let request_id = request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
                .unwrap_or_default();
            shared::telemetry::invocation(request_id, app.clone().oneshot(request))
        },
    ))
    .await
}
