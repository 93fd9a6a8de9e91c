//! The caller: `GET /api/me`, `DELETE /api/me` (delete my data), `GET /api/user/{user_id}`,
//! `GET /api/referrals`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use serde::Deserialize;
use shared::repo::{referrals, users};
use shared::services::Services;
use shared::usecases;
use utoipa::ToSchema;

use crate::auth::{AuthUser, Caller};
use crate::error::{ApiResult, Error, Json as BodyJson, Path};
use crate::responses::{AuthErrors, Invalid, JsonBody, NotFound};
use crate::routing::{routes, ApiRouter};
use crate::views::payments::Prices;
use crate::views::referrals::Referrals;
use crate::views::users::{AccountErased, Language, Me, Profile};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(me, delete_me, update_me))
        .routes(routes!(user))
        .routes(routes!(referral_program))
}

/// The user's referral link, if the bot's name can be had.
pub async fn referral_link(services: &Services, code: &str) -> Option<String> {
    let telegram = services.telegram().ok()?;
    match telegram.start_link(code).await {
        Ok(link) => Some(link),
        Err(e) => {
            tracing::warn!(error = %shared::telemetry::error_chain(&e), "no referral link: the bot's name is unknown");
            None
        }
    }
}

/// The caller's profile, balance, referral link and prices.
#[utoipa::path(get, path = "/api/me", tag = "me", security(("tma" = [])),
    responses((status = 200, description = "The caller", body = Me), AuthErrors))]
async fn me(AxumState(state): AxumState<Arc<State>>, caller: Caller) -> ApiResult<Json<Me>> {
    let (caller, role) = caller
        .with(&state, {
            let state = state.clone();
            async move |db, user_id| usecases::admin::role(&state.services, db, user_id).await
        })
        .await?;
    Ok(Json(
        me_of(&state.services, caller.user, role.is_some()).await,
    ))
}

async fn me_of(services: &Services, user: shared::repo::users::User, is_admin: bool) -> Me {
    let referral_link = referral_link(services, &user.referral_code).await;
    Me {
        language: user.lang().into(),
        language_chosen: user.language.is_some(),
        profile: user.into(),
        is_admin,
        referral_link,
        prices: Prices::of(services),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// The language to speak from now on, in the bot and the Mini App.
    pub language: Language,
}

/// Changes what the caller may set of their profile (their language); answers as `GET /api/me`.
#[utoipa::path(patch, path = "/api/me", tag = "me", security(("tma" = [])),
    request_body = ProfileUpdate,
    responses((status = 200, description = "The caller, changed", body = Me), AuthErrors, JsonBody, Invalid))]
async fn update_me(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    BodyJson(body): BodyJson<ProfileUpdate>,
) -> ApiResult<Json<Me>> {
    let services = &state.services;
    let user =
        usecases::users::set_language(services, caller.user.id, body.language.into()).await?;
    let role = usecases::admin::role(services, &**state.conn().await?, user.id).await?;
    Ok(Json(me_of(services, user, role.is_some()).await))
}

/// Deletes the caller's data: training photos, models (and their versions and files at Replicate;
/// a training in progress is canceled there first), generations and their images, feedback, the
/// journey's details and the profile's names. Payments and the token ledger stay (accounting), and
/// name no one beyond the user's id; the balance stays the caller's. Replicate's deletions are
/// durable: while Replicate fails they are retried. Deleting again does nothing more; signing in
/// again later registers the caller's names anew.
#[utoipa::path(delete, path = "/api/me", tag = "me", security(("tma" = [])),
    responses((status = 200, description = "What was deleted", body = AccountErased),
              AuthErrors))]
async fn delete_me(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
) -> ApiResult<Json<AccountErased>> {
    let erased = usecases::deletion::erase_account(&state.services, caller.user.id).await?;
    tracing::info!(
        photos = erased.rows.photos,
        models = erased.rows.models,
        generations = erased.rows.generations,
        "account data deleted"
    );
    Ok(Json(erased.into()))
}

/// A user's profile: the caller's own, or anyone's for an admin (others get 404).
#[utoipa::path(get, path = "/api/user/{user_id}", tag = "me", security(("tma" = [])),
    params(("user_id" = i64, Path, description = "A Telegram user id")),
    responses((status = 200, description = "The user", body = Profile), AuthErrors, NotFound))]
async fn user(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(user_id): Path<i64>,
) -> ApiResult<Json<Profile>> {
    if user_id == caller.user.id {
        return Ok(Json(caller.user.into()));
    }
    let conn = state.conn().await?;
    if usecases::admin::role(&state.services, &**conn, caller.user.id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("user"));
    }
    let user = users::get(&**conn, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    Ok(Json(user.into()))
}

/// The caller's referral link and how many joined and paid through it.
#[utoipa::path(get, path = "/api/referrals", tag = "me", security(("tma" = [])),
    responses((status = 200, description = "The referral program", body = Referrals), AuthErrors))]
async fn referral_program(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
) -> ApiResult<Json<Referrals>> {
    let services = &state.services;
    let stats = referrals::statistics(&**state.conn().await?, caller.user.id).await?;
    Ok(Json(Referrals {
        link: referral_link(services, &caller.user.referral_code).await,
        code: caller.user.referral_code,
        bonus_tokens_per_referral: services.config.product.referral_bonus,
        stats: stats.into(),
    }))
}
