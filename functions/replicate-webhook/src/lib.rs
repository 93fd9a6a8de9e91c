//! The Replicate webhook function: Replicate posts training and prediction updates here. We verify
//! the Standard Webhooks signature, handle each delivery once, and hand the result to
//! [`shared::outcomes`] (the same code the poller uses on one machine).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use shared::once::{handle_claimed, Handled, OnceError};
use shared::outcomes::{self, Claimed, OutcomeError, Reported};
use shared::replicate::Job;
use shared::repo::deliveries::{Claim, Delivery};
use shared::services::{Services, StartupError, Unavailable};
use shared::signature::WebhookSecret;
use tracing::Instrument;
use web::ApiError;

/// Built once per cold start.
#[derive(Clone, Debug)]
pub struct State {
    pub services: Services,
    secret: Option<WebhookSecret>,
}

impl State {
    pub async fn from_env() -> Result<Arc<Self>, StartupError> {
        Ok(Self::new(Services::from_env().await?))
    }

    pub fn new(services: Services) -> Arc<Self> {
        let secret = services
            .config
            .replicate
            .webhook_secret
            .as_ref()
            .and_then(|s| WebhookSecret::parse(s.expose()).ok()); // checked when the config was read
        Arc::new(Self { services, secret })
    }
}

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/replicate/webhook", post(webhook))
        .with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn webhook(
    AxumState(state): AxumState<Arc<State>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &state.secret else {
        return ApiError::from(Unavailable {
            what: "the Replicate webhook",
            var: "REPLICATE_WEBHOOK_SECRET",
        })
        .into_response();
    };
    let webhook_id = header(&headers, "webhook-id");
    if let Err(e) = secret.verify(
        webhook_id,
        header(&headers, "webhook-timestamp"),
        header(&headers, "webhook-signature"),
        &body,
        chrono::Utc::now().timestamp(),
    ) {
        return ApiError::unauthorized("bad_signature", e.to_string()).into_response();
    }
    let webhook_id = webhook_id.unwrap_or_default().to_owned(); // verified present
    let job: Job = match serde_json::from_slice(&body) {
        Ok(job) => job,
        Err(e) => {
            return ApiError::bad_request(format!("not a Replicate training or prediction: {e}"))
                .into_response()
        }
    };
    let span = tracing::info_span!("replicate_webhook", webhook_id = %webhook_id, replicate_id = %job.id, status = ?job.status);
    let attempt = attempt_tag(query.as_deref());
    handle(&state.services, &webhook_id, job, attempt)
        .instrument(span)
        .await
}

/// The `attempt` parameter of our webhook URL (`?attempt=<tag>`), if well-formed: the tag of the
/// attempt that created the job, for when its id is not stored yet.
fn attempt_tag(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|pair| pair.strip_prefix("attempt="))
        .find(|tag| {
            (8..=64).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

async fn handle(
    services: &Services,
    webhook_id: &str,
    job: Job,
    attempt: Option<&str>,
) -> Response {
    // Only ids we stored when we created the job, or our attempt's tag in the URL we gave Replicate,
    // lead anywhere; the body names nothing else we trust.
    if !job.status.is_final() {
        // A report of a job still running (its start, its logs every half second) changes nothing
        // twice: a status moves only forward and its status message is edited at most every few
        // seconds, in the database. So it needs no dedupe row, and Replicate does not retry it.
        let subject = match outcomes::find_subject(services, &job.id, attempt).await {
            Ok(Some(subject)) => subject,
            Ok(None) => return unknown(),
            Err(e) => return ApiError::internal(&e).into_response(),
        };
        return match outcomes::apply(services, subject, &job).await {
            Ok(_) => ok("handled"),
            Err(e) => retry(&e),
        };
    }
    let delivery = Delivery::ReplicateWebhook {
        webhook_id,
        replicate_id: &job.id,
    };
    // Claimed in the round trip that finds what the job is ours for.
    let subject = match outcomes::claim_and_find(services, delivery, &job.id, attempt).await {
        Ok(Claimed::Subject(subject)) => subject,
        Ok(Claimed::Unknown) => return unknown(),
        Ok(Claimed::Duplicate) => {
            tracing::info!("duplicate delivery skipped");
            return ok("duplicate");
        }
        Ok(Claimed::InProgress) => {
            tracing::info!("delivery still being handled elsewhere; the sender will come back");
            return retry(&OnceError::<OutcomeError>::InProgress);
        }
        Err(e) => return ApiError::internal(&e).into_response(),
    };
    let handled = handle_claimed(
        services.db(),
        delivery,
        Claim::Claimed,
        || outcomes::apply_delivered(services, *subject, &job, Some(delivery)),
        // Results that arrived finished the delivery in their own transaction.
        |reported: &Reported| !reported.finished,
    )
    .await;
    answer(handled)
}

fn answer(handled: Result<Handled<Reported>, OnceError<OutcomeError>>) -> Response {
    match handled {
        Ok(Handled::Done(_)) | Ok(Handled::Failed) => ok("handled"),
        Ok(Handled::Duplicate) => ok("duplicate"),
        // Replicate retries a failed final webhook; intermediate ones are not retried, which is fine.
        Err(e) => retry(&e),
    }
}

fn unknown() -> Response {
    tracing::warn!("a webhook for a job we do not know; acknowledged and ignored");
    ok("unknown")
}

fn retry(e: &dyn std::error::Error) -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "retry", e.to_string()).into_response()
}

fn ok(result: &'static str) -> Response {
    (
        StatusCode::OK,
        Json(serde_json::json!({ "result": result })),
    )
        .into_response()
}
