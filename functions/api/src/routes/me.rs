//! The caller: `GET /api/me`, `DELETE /api/me` (delete my data), `GET /api/user/{user_id}`,
//! `GET /api/referrals`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::config::TokenPack;
use shared::repo::referrals::{self, ReferralStats};
use shared::repo::users::{self, User};
use shared::service;
use shared::services::Services;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{ApiResult, Error, Path};
use crate::responses::{AuthErrors, NotFound};
use crate::State;

pub fn router() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::new()
        .routes(routes!(me, delete_me))
        .routes(routes!(user))
        .routes(routes!(referral_program))
}

/// A user as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Profile {
    pub id: i64,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
    pub tokens_left: i64,
    pub tokens_spent: i64,
    pub referral_code: String,
    pub referred_by: Option<i64>,
    /// Blocked by an admin.
    pub is_blocked: bool,
    pub activated_at: DateTime<Utc>,
}

impl From<&User> for Profile {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            language_code: u.language_code.clone(),
            tokens_left: u.tokens_left,
            tokens_spent: u.tokens_spent,
            referral_code: u.referral_code.clone(),
            referred_by: u.referred_by,
            is_blocked: u.is_blocked,
            activated_at: u.activated_at,
        }
    }
}

/// What things cost, in tokens, and the packs of tokens for sale.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Prices {
    /// Tokens a training costs.
    pub training_cost: i64,
    /// Tokens one generated image costs.
    pub generation_cost_per_image: i64,
    /// Tokens earned when someone invited pays for the first time.
    pub referral_bonus: i64,
    /// The currency of the packs' prices (`XTR`: Telegram Stars).
    pub currency: String,
    pub packs: Vec<TokenPack>,
}

impl Prices {
    pub fn of(services: &Services) -> Self {
        let product = &services.config.product;
        Self {
            training_cost: shared::domain::rules::training_cost(product),
            generation_cost_per_image: shared::domain::rules::generation_cost(product, 1),
            referral_bonus: product.referral_bonus,
            currency: product.currency.clone(),
            packs: product.packs.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub profile: Profile,
    /// An owner (ADMIN_IDS) or an admin.
    pub is_admin: bool,
    /// `https://t.me/<bot>?start=<referral code>`; `null` when the bot is not reachable.
    pub referral_link: Option<String>,
    pub prices: Prices,
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
async fn me(AxumState(state): AxumState<Arc<State>>, caller: AuthUser) -> ApiResult<Json<Me>> {
    let services = &state.services;
    let db = services.db()?;
    let role = service::admin::role(services, &**db.conn().await?, caller.user.id).await?;
    Ok(Json(Me {
        profile: Profile::from(&caller.user),
        is_admin: role.is_some(),
        referral_link: referral_link(services, &caller.user.referral_code).await,
        prices: Prices::of(services),
    }))
}

/// Deletes the caller's data: training photos, models (and their versions and files at Replicate;
/// a training in progress is canceled there first), generations and their images, feedback, the
/// journey's details and the profile's names. Payments and the token ledger stay (accounting), and
/// name no one beyond the user's id; the balance stays the caller's. Replicate's deletions are
/// durable: while Replicate fails they are retried. Deleting again does nothing more; signing in
/// again later registers the caller's names anew.
#[utoipa::path(delete, path = "/api/me", tag = "me", security(("tma" = [])),
    responses((status = 200, description = "What was deleted", body = service::deletion::AccountErased),
              AuthErrors))]
async fn delete_me(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
) -> ApiResult<Json<service::deletion::AccountErased>> {
    let erased = service::deletion::erase_account(&state.services, caller.user.id).await?;
    tracing::info!(
        photos = erased.rows.photos,
        models = erased.rows.models,
        generations = erased.rows.generations,
        "account data deleted"
    );
    Ok(Json(erased))
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
        return Ok(Json(Profile::from(&caller.user)));
    }
    let services = &state.services;
    let db = services.db()?;
    let conn = db.conn().await?;
    if service::admin::role(services, &**conn, caller.user.id)
        .await?
        .is_none()
    {
        return Err(Error::not_found("user"));
    }
    let user = users::get(&**conn, user_id)
        .await?
        .ok_or_else(|| Error::not_found("user"))?;
    Ok(Json(Profile::from(&user)))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Referrals {
    /// The caller's referral code (the `start` / `startapp` parameter of their link).
    pub code: String,
    /// `https://t.me/<bot>?start=<code>`; `null` when the bot is not reachable.
    pub link: Option<String>,
    /// Tokens earned per invited user's first payment.
    pub bonus_tokens_per_referral: i64,
    pub stats: ReferralStats,
}

/// The caller's referral link and how many joined and paid through it.
#[utoipa::path(get, path = "/api/referrals", tag = "me", security(("tma" = [])),
    responses((status = 200, description = "The referral program", body = Referrals), AuthErrors))]
async fn referral_program(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
) -> ApiResult<Json<Referrals>> {
    let services = &state.services;
    let db = services.db()?;
    let stats = referrals::statistics(&**db.conn().await?, caller.user.id).await?;
    Ok(Json(Referrals {
        link: referral_link(services, &caller.user.referral_code).await,
        code: caller.user.referral_code,
        bonus_tokens_per_referral: services.config.product.referral_bonus,
        stats,
    }))
}
