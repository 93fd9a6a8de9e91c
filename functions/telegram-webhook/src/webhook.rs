//! `POST /telegram/webhook`: secret check, parse, exactly-once, and the answer Telegram acts on
//! (2xx: done; 5xx: deliver again later).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use shared::dispatch;
use shared::effects::{AdminNotice, Effect, Written};
use shared::once::{handle_claimed, Handled, OnceError};
use shared::repo::deliveries::{self, Delivery};
use shared::telemetry::error_chain;
use shared::usecases;
use subtle::ConstantTimeEq;
use teloxide_core::types::Update;
use tracing::Instrument;
use web::ApiError;

use crate::bot::{self, BotError, WebhookReply};
use crate::State;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/telegram/webhook", post(webhook))
        .with_state(state)
}

/// An update that was not handled and should be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error(transparent)]
    Once(#[from] OnceError<BotError>),
    #[error(transparent)]
    Unavailable(#[from] shared::services::Unavailable),
}

async fn webhook(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = state.services.telegram() {
        return ApiError::from(e).into_response();
    }
    let config = &state.services.config;
    let Some(secret) = &config.telegram.webhook_secret else {
        return ApiError::from(shared::services::Unavailable {
            what: "the Telegram webhook",
            var: "TELEGRAM_WEBHOOK_SECRET",
        })
        .into_response();
    };
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(secret.expose().as_bytes())) {
        return ApiError::unauthorized(
            "bad_secret",
            "missing or wrong X-Telegram-Bot-Api-Secret-Token",
        )
        .into_response();
    }
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => {
            return ApiError::bad_request(format!("not a Telegram update: {e}")).into_response()
        }
    };
    match process_update(&state, update).await {
        // Telegram makes this call for us from the response body: one Bot API round trip saved.
        Ok(Some(reply)) => (StatusCode::OK, Json(reply)).into_response(),
        Ok(None) => (StatusCode::OK, Json(serde_json::json!({}))).into_response(),
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "retry",
            format!(
                "the update was not handled and should be delivered again: {}",
                error_chain(&e)
            ),
        )
        .into_response(),
    }
}

/// Handles one update exactly once (see [`shared::once`]). Returns the final reply to put in the
/// webhook response, if the update ended with one that needs no result.
pub async fn process_update(
    state: &State,
    update: Update,
) -> Result<Option<WebhookReply>, WebhookError> {
    let update_id = i64::from(update.id.0);
    let span = tracing::info_span!("update", update_id, user_id = tracing::field::Empty);
    async move {
        let db = state.services.db();
        let delivery = Delivery::TelegramUpdate(update_id);
        let sender = bot::sender(&update).map(bot::profile_of);
        if let Some(profile) = &sender {
            tracing::Span::current().record("user_id", profile.id);
        }
        // The claim and the sender's registration (which loads their state) are sent together:
        // tokio-postgres pipelines queries made concurrently on one connection, so they cost one
        // round trip. Registering for a duplicate is harmless: it only refreshes the same names.
        let (claim, met) = {
            let conn = db.conn().await.map_err(OnceError::Db)?;
            let client = &**conn;
            tokio::join!(deliveries::claim(client, delivery), async {
                let met: Result<_, usecases::ServiceError> = match &sender {
                    Some(profile) => {
                        let source = usecases::users::FROM_THE_BOT;
                        let known = shared::repo::users::get(client, profile.id).await?;
                        let wrote = !known
                            .as_ref()
                            .is_some_and(|u| usecases::users::is_current(u, profile, source));
                        let met = usecases::users::meet(client, profile, source, known).await?;
                        Ok((Some(met), wrote))
                    }
                    None => Ok((None, false)),
                };
                met
            })
        };
        let (registered, registration_wrote) = match met {
            Ok((registered, wrote)) => (Ok(registered), wrote),
            Err(e) => (Err(e), false),
        };
        let payment = bot::payment_of(&update);
        // A failed registration goes through the handler, so the claim is given back with it.
        // An update that only read and answered in the response is not recorded as done: one round
        // trip in all, and if Telegram never got the response, its redelivery answers again.
        let handled = handle_claimed(
            db,
            delivery,
            claim.map_err(OnceError::Db)?,
            move || async move { bot::handle(state, update, registered?).await },
            |handling| registration_wrote || handling.acted,
        )
        .await?;
        if let (Handled::Failed, Some(notice)) = (&handled, payment) {
            // Telegram took the money and will not deliver this again: an admin must settle it.
            tell_admins_once(&state.services, update_id, notice).await;
        }
        Ok(match handled {
            Handled::Done(handling) => handling.reply,
            Handled::Failed | Handled::Duplicate => None,
        })
    }
    .instrument(span)
    .await
}

/// Handles an update fetched by long polling (no webhook response to carry the reply: send it).
pub async fn process_polled_update(state: &State, update: Update) -> Result<(), WebhookError> {
    if let Some(reply) = process_update(state, update).await? {
        let telegram = state.services.telegram()?;
        if let Err(e) = reply.send(telegram).await {
            tracing::warn!(error = %error_chain(&e), "final reply not delivered");
        }
    }
    Ok(())
}

/// Writes the admins' notice of an update that failed for good (once per update) and sends it.
async fn tell_admins_once(
    services: &shared::services::Services,
    update_id: i64,
    notice: AdminNotice,
) {
    let mut written = Written::new();
    let wrote = async {
        let conn = services.db().conn().await?;
        let key = format!("admins:update-failed:{update_id}");
        written
            .write(&**conn, &key, &Effect::TellAdmins { notice })
            .await
    }
    .await;
    match wrote {
        Ok(()) => dispatch::now(services, written).await,
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "the admins could not be told of a payment we did not record")
        }
    }
}
