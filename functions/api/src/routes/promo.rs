//! Redeeming a promo code: `POST /api/promo`. The codes themselves are managed by admins
//! ([`crate::routes::admin::promos`]).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use chrono::Utc;
use serde::Deserialize;
use shared::usecases;
use shared::usecases::promo::Refusal;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{check_text, ApiResult, Error, Json};
use crate::idempotency::IdempotencyKey;
use crate::responses::{AuthErrors, Conflict, Invalid, JsonBody, NotFound, RateLimited};
use crate::routing::{routes, ApiRouter};
use crate::views::promos::Redemption;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new().routes(routes!(redeem_promo))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PromoRedemption {
    pub code: String,
}

/// Redeems a promo code: 404 for a code that does not exist, is switched off or is not valid yet
/// (one answer, so guessing tells nothing), 409 with a `code` saying why one cannot be used
/// (`promo_expired`, `promo_exhausted`, `promo_already_used`), 429 after 10 attempts in 10 minutes
/// (wrong guesses count).
#[utoipa::path(post, path = "/api/promo", tag = "me", security(("tma" = [])),
    params(IdempotencyKey),
    request_body = PromoRedemption,
    responses((status = 200, description = "What the code gave", body = Redemption),
              AuthErrors, JsonBody, Invalid, NotFound, Conflict, RateLimited))]
async fn redeem_promo(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Json(body): Json<PromoRedemption>,
) -> ApiResult<JsonResponse<Redemption>> {
    check_text("code", &body.code)?;
    if body.code.trim().is_empty() || body.code.len() > 64 {
        return Err(Error::invalid("code", "must be a promo code"));
    }
    let outcome =
        usecases::promo::redeem(&state.services, caller.user.id, &body.code, Utc::now()).await?;
    let refusal = match outcome {
        Ok(redeemed) => return Ok(JsonResponse(redeemed.into())),
        Err(refusal) => refusal,
    };
    let (code, message) = match refusal {
        Refusal::Unknown => return Err(Error::not_found("promo code")),
        Refusal::TooManyAttempts { retry_after } => {
            return Err(Error::rate_limited(
                usecases::promo::ATTEMPTS.action,
                retry_after,
            ))
        }
        Refusal::Expired => ("promo_expired", "this promo code has expired"),
        Refusal::Exhausted => ("promo_exhausted", "this promo code has been used up"),
        Refusal::AlreadyUsed => (
            "promo_already_used",
            "you have already used this promo code",
        ),
    };
    Err(Error::new(StatusCode::CONFLICT, code, message))
}
