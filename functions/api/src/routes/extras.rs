//! What the original system had beyond its README, for the Mini App: promo codes, feedback on
//! generations, system models; and for admins the journey funnel and ratings, promo management,
//! admins kept in the database and the audit log (owners only). Every rule is the bot's, from
//! `shared::service`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::domain::status::GenerationStatus;
use shared::repo::admins::{self, ActionEntry, AdminEntry};
use shared::repo::events::{self, Funnel};
use shared::repo::feedback::{self, LowRating, StyleRating};
use shared::repo::generations;
use shared::repo::models::{self, Model};
use shared::repo::promos::{self, PromoCode, Terms};
use shared::service::admin::Role;
use shared::service::promo::{Redeemed, Refusal};
use shared::service::{self};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminUser, AuthUser};
use crate::error::{check_text, ApiResult, Error, Json, Path, Query};
use crate::pagination::{PageParams, Paginated};
use crate::responses::{
    AdminErrors, AuthErrors, Conflict, Invalid, JsonBody, NotFound, RateLimited,
};
use crate::State;

pub fn router() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::new()
        .routes(routes!(redeem_promo))
        .routes(routes!(rate_generation))
        .routes(routes!(list_system_models))
        .routes(routes!(set_model_preview))
        .routes(routes!(insights))
        .routes(routes!(list_promos, create_promo))
        .routes(routes!(change_promo))
        .routes(routes!(list_admins, add_admin))
        .routes(routes!(remove_admin))
        .routes(routes!(list_actions))
        .routes(routes!(set_system_model))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PromoRedemption {
    pub code: String,
}

/// What a redeemed code gave: tokens at once, or a discount on the next pack.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Redemption {
    Tokens { tokens: i64, balance: i64 },
    Discount { percent: i32 },
}

/// Redeems a promo code: 404 for a code that does not exist, is switched off or is not valid yet
/// (one answer, so guessing tells nothing), 409 with a `code` saying why one cannot be used
/// (`promo_expired`, `promo_exhausted`, `promo_already_used`), 429 after 10 attempts in 10 minutes
/// (wrong guesses count).
#[utoipa::path(post, path = "/api/promo", tag = "me", security(("tma" = [])),
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
        service::promo::redeem(&state.services, caller.user.id, &body.code, Utc::now()).await?;
    let (code, message) = match outcome {
        Ok(Redeemed::Tokens { tokens, balance }) => {
            return Ok(JsonResponse(Redemption::Tokens { tokens, balance }))
        }
        Ok(Redeemed::Discount { percent }) => {
            return Ok(JsonResponse(Redemption::Discount { percent }))
        }
        Err(Refusal::Unknown) => return Err(Error::not_found("promo code")),
        Err(Refusal::TooManyAttempts { retry_after }) => {
            return Err(Error::rate_limited(
                service::promo::ATTEMPTS.action,
                retry_after,
            ))
        }
        Err(Refusal::Expired) => ("promo_expired", "this promo code has expired"),
        Err(Refusal::Exhausted) => ("promo_exhausted", "this promo code has been used up"),
        Err(Refusal::AlreadyUsed) => (
            "promo_already_used",
            "you have already used this promo code",
        ),
    };
    Err(Error::new(StatusCode::CONFLICT, code, message))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Rating {
    /// 1 to 5.
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i16,
    /// Optional words, up to 1000 characters.
    pub comment: Option<String>,
}

/// Rates one of the caller's generations (again, to change it), with an optional comment.
#[utoipa::path(post, path = "/api/generations/{id}/feedback", tag = "generations", security(("tma" = [])),
    params(("id" = i64, Path, description = "The generation's id")),
    request_body = Rating,
    responses((status = 204, description = "Stored"), AuthErrors, JsonBody, Invalid, NotFound))]
async fn rate_generation(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<Rating>,
) -> ApiResult<StatusCode> {
    if !(1..=5).contains(&body.rating) {
        return Err(Error::invalid("rating", "must be 1 to 5"));
    }
    if let Some(comment) = &body.comment {
        check_text("comment", comment)?;
        if comment.chars().count() > 1000 {
            return Err(Error::invalid("comment", "must be at most 1000 characters"));
        }
    }
    let db = state.services.db()?;
    let conn = db.conn().await?;
    if !feedback::rate(&**conn, id, caller.user.id, body.rating).await? {
        return Err(Error::not_found("generation"));
    }
    if let Some(comment) = body
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        feedback::comment(&**conn, id, caller.user.id, comment).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A model offered to everyone, as everyone may see it: nothing of its owner, its weights or its
/// training.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemModel {
    pub id: i64,
    pub name: String,
    /// An image made with it, when one was chosen as a URL.
    pub preview_url: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
}

impl From<Model> for SystemModel {
    fn from(m: Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            preview_url: m.preview_url,
            created_at: m.created_at,
        }
    }
}

/// Ready models admins offer to everyone (generate with them like with your own).
#[utoipa::path(get, path = "/api/system-models", tag = "models", security(("tma" = [])),
    responses((status = 200, description = "System models", body = Vec<SystemModel>), AuthErrors))]
async fn list_system_models(
    AxumState(state): AxumState<Arc<State>>,
    _caller: AuthUser,
) -> ApiResult<JsonResponse<Vec<SystemModel>>> {
    let db = state.services.db()?;
    let offered = models::list_system(&**db.conn().await?).await?;
    Ok(JsonResponse(offered.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PreviewChoice {
    /// A delivered generation made with this model; its first photo becomes the preview.
    pub generation_id: i64,
}

/// Chooses the model's preview image (by default it is the first delivered photo).
#[utoipa::path(post, path = "/api/models/{id}/preview", tag = "models", security(("tma" = [])),
    params(("id" = i64, Path, description = "The model's id")),
    request_body = PreviewChoice,
    responses((status = 204, description = "Set"), AuthErrors, JsonBody, Invalid, NotFound, Conflict))]
async fn set_model_preview(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<PreviewChoice>,
) -> ApiResult<StatusCode> {
    let db = state.services.db()?;
    let conn = db.conn().await?;
    models::get_owned(&**conn, id, caller.user.id)
        .await?
        .ok_or_else(|| Error::not_found("model"))?;
    let generation = generations::get_owned(&**conn, body.generation_id, caller.user.id)
        .await?
        .filter(|g| g.model_id == Some(id))
        .ok_or_else(|| Error::not_found("generation"))?;
    if generation.status != GenerationStatus::Succeeded {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "conflict",
            "the generation has no delivered photos",
        ));
    }
    models::set_preview(
        &**conn,
        id,
        generation.telegram_file_ids.first().map(String::as_str),
        generation.result_urls.first().map(String::as_str),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Insights {
    /// Distinct users started -> trained -> generated -> paid, for today, 7 and 30 days.
    pub funnels: Vec<Funnel>,
    pub ratings_by_style: Vec<StyleRating>,
    pub recent_low_ratings: Vec<LowRating>,
}

/// The journey funnel and what users think of the photos.
#[utoipa::path(get, path = "/api/admin/insights", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Funnel and ratings", body = Insights), AdminErrors))]
async fn insights(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<JsonResponse<Insights>> {
    let db = state.services.db()?;
    let conn = db.conn().await?;
    Ok(JsonResponse(Insights {
        funnels: events::funnels(&**conn).await?,
        ratings_by_style: feedback::by_style(&**conn).await?,
        recent_low_ratings: feedback::recent_low(&**conn, 20).await?,
    }))
}

/// Every promo code, newest first.
#[utoipa::path(get, path = "/api/admin/promos", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Promo codes", body = Vec<PromoCode>), AdminErrors))]
async fn list_promos(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<JsonResponse<Vec<PromoCode>>> {
    let db = state.services.db()?;
    Ok(JsonResponse(promos::list(&**db.conn().await?).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPromo {
    /// 3-32 letters, digits, `_` or `-` (case-insensitive for users).
    pub code: String,
    /// A token code gives this many tokens...
    pub tokens: Option<i64>,
    /// ...a discount code this percent off the next pack (1-99). Exactly one of the two.
    pub discount_percent: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Uses overall; none for unlimited.
    pub max_uses: Option<i32>,
}

/// Creates a promo code (audited).
#[utoipa::path(post, path = "/api/admin/promos", tag = "admin", security(("tma" = [])),
    request_body = NewPromo,
    responses((status = 201, description = "Created", body = PromoCode), AdminErrors, JsonBody, Invalid, Conflict))]
async fn create_promo(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Json(body): Json<NewPromo>,
) -> ApiResult<(StatusCode, JsonResponse<PromoCode>)> {
    check_text("code", &body.code)?;
    let terms = Terms {
        tokens: body.tokens,
        discount_percent: body.discount_percent,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        max_uses: body.max_uses,
    };
    let promo = service::promo::create(&state.services, admin.user.id, &body.code, &terms).await?;
    Ok((StatusCode::CREATED, JsonResponse(promo)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PromoChange {
    /// A new end (`null` to remove it); absent to keep it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// New max uses (`null` for unlimited); absent to keep them.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i32>)]
    pub max_uses: Option<Option<i32>>,
    pub is_active: Option<bool>,
}

/// `Some(None)` for an explicit `null`, `None` (by `default`) when the field is absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes a code's end, max uses or active flag (audited).
#[utoipa::path(patch, path = "/api/admin/promos/{code}", tag = "admin", security(("tma" = [])),
    params(("code" = String, Path, description = "The promo code")),
    request_body = PromoChange,
    responses((status = 200, description = "Changed", body = PromoCode), AdminErrors, JsonBody, Invalid, NotFound, Conflict))]
async fn change_promo(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(code): Path<String>,
    Json(body): Json<PromoChange>,
) -> ApiResult<JsonResponse<PromoCode>> {
    check_text("code", &code)?;
    if body.max_uses.flatten().is_some_and(|m| m <= 0) {
        return Err(Error::invalid("max_uses", "must be positive"));
    }
    let promo = service::promo::change(
        &state.services,
        admin.user.id,
        &code,
        body.valid_until,
        body.max_uses,
        body.is_active,
    )
    .await?;
    Ok(JsonResponse(promo))
}

fn owner_only(admin: &AdminUser) -> ApiResult<()> {
    if admin.role == Role::Owner {
        Ok(())
    } else {
        Err(Error::forbidden("only an owner (ADMIN_IDS) may do this"))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Admins {
    /// The owners, from ADMIN_IDS.
    pub owners: Vec<i64>,
    pub admins: Vec<AdminEntry>,
}

/// Owners and the admins they added (owners only).
#[utoipa::path(get, path = "/api/admin/admins", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Owners and admins", body = Admins), AdminErrors))]
async fn list_admins(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
) -> ApiResult<JsonResponse<Admins>> {
    owner_only(&admin)?;
    let db = state.services.db()?;
    Ok(JsonResponse(Admins {
        owners: state.services.config.admin_ids.clone(),
        admins: admins::list(&**db.conn().await?).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAdmin {
    pub user_id: i64,
}

/// Makes a user (who has used the bot or the app) an admin (owners only; audited).
#[utoipa::path(post, path = "/api/admin/admins", tag = "admin", security(("tma" = [])),
    request_body = NewAdmin,
    responses((status = 204, description = "An admin now"), AdminErrors, JsonBody, Invalid, NotFound))]
async fn add_admin(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Json(body): Json<NewAdmin>,
) -> ApiResult<StatusCode> {
    owner_only(&admin)?;
    service::admin::change_admin(&state.services, admin.user.id, body.user_id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes an admin (owners only; an owner cannot be removed here; audited).
#[utoipa::path(delete, path = "/api/admin/admins/{user_id}", tag = "admin", security(("tma" = [])),
    params(("user_id" = i64, Path, description = "The admin's Telegram id")),
    responses((status = 204, description = "Not an admin any more"), AdminErrors, NotFound, Conflict))]
async fn remove_admin(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(user_id): Path<i64>,
) -> ApiResult<StatusCode> {
    owner_only(&admin)?;
    if !service::admin::change_admin(&state.services, admin.user.id, user_id, false).await? {
        return Err(Error::not_found("admin"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log of admin actions, newest first (owners only).
#[utoipa::path(get, path = "/api/admin/actions", tag = "admin", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of admin actions", body = Paginated<ActionEntry>), AdminErrors, Invalid))]
async fn list_actions(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Query(params): Query<PageParams>,
) -> ApiResult<JsonResponse<Paginated<ActionEntry>>> {
    owner_only(&admin)?;
    let page = params.page()?;
    let db = state.services.db()?;
    let entries = admins::actions(&**db.conn().await?, page).await?;
    Ok(JsonResponse(Paginated::new(entries, page, |e| e.id)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SystemFlag {
    /// `true` to offer the (ready) model to everyone, `false` to stop.
    pub system: bool,
}

/// Offers a ready model to everyone, or stops (audited).
#[utoipa::path(post, path = "/api/admin/models/{id}/system", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The model's id")),
    request_body = SystemFlag,
    responses((status = 204, description = "Changed"), AdminErrors, JsonBody, Invalid, NotFound, Conflict))]
async fn set_system_model(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(id): Path<i64>,
    Json(body): Json<SystemFlag>,
) -> ApiResult<StatusCode> {
    service::admin::set_system_model(&state.services, admin.user.id, id, body.system).await?;
    Ok(StatusCode::NO_CONTENT)
}
