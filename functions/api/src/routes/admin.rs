//! Owners' and admins' routes (`/api/admin/...`): statistics, users (find, block, unblock, grant or
//! take tokens), payments, and the style catalogue. Every change is written to the audit log by the
//! shared admin use cases, as when done through the bot.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use serde::{Deserialize, Deserializer, Serialize};
use shared::repo::payments::{self, Payment};
use shared::repo::stats::{self, GlobalStats};
use shared::repo::styles::{NewStyle, Style, StyleUpdate};
use shared::repo::users;
use shared::service::{self, styles as style_rules};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::error::{check_text, ApiResult, Error, Json, Path, Query};
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AdminErrors, Conflict, Invalid, JsonBody, NotFound};
use crate::routes::me::Profile;
use crate::State;

pub fn router() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(list_users))
        .routes(routes!(block_user))
        .routes(routes!(unblock_user))
        .routes(routes!(adjust_tokens))
        .routes(routes!(list_all_payments))
        .routes(routes!(create_style))
        .routes(routes!(update_style, disable_style))
}

/// Statistics over everything: users, payments and revenue, models, generations.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Global statistics", body = GlobalStats), AdminErrors))]
async fn stats(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<JsonResponse<GlobalStats>> {
    let db = state.services.db()?;
    Ok(JsonResponse(
        stats::global_statistics(&**db.conn().await?).await?,
    ))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearch {
    /// A user id or @username (a prefix of it finds too); without it, every user, newest first.
    pub query: Option<String>,
    /// How many users (1-100, 20 by default).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The last id of the previous page (its `next_cursor`); not used with `query`.
    #[param(minimum = 1)]
    pub cursor: Option<i64>,
}

/// Finds users by id or @username, or lists them all.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", security(("tma" = [])),
    params(UserSearch),
    responses((status = 200, description = "A page of users", body = Paginated<Profile>), AdminErrors, Invalid))]
async fn list_users(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
    Query(search): Query<UserSearch>,
) -> ApiResult<JsonResponse<Paginated<Profile>>> {
    let page = PageParams {
        limit: search.limit,
        cursor: search.cursor,
    }
    .page()?;
    let db = state.services.db()?;
    let conn = db.conn().await?;
    match search
        .query
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        Some(query) => {
            check_text("query", query)?;
            if query.chars().count() > 64 {
                return Err(Error::invalid("query", "at most 64 characters"));
            }
            let found = users::search(&**conn, query, page.limit).await?;
            Ok(JsonResponse(Paginated {
                items: found.iter().map(Profile::from).collect(),
                next_cursor: None,
            }))
        }
        None => {
            let found = users::list(&**conn, page).await?;
            let items: Vec<Profile> = found.iter().map(Profile::from).collect();
            Ok(JsonResponse(Paginated::new(items, page, |p| p.id)))
        }
    }
}

async fn set_blocked(
    state: &State,
    admin: &AdminUser,
    user_id: i64,
    blocked: bool,
) -> ApiResult<Profile> {
    let user =
        service::admin::set_blocked(&state.services, admin.user.id, user_id, blocked).await?;
    tracing::info!(
        admin_id = admin.user.id,
        user_id,
        blocked,
        "user block changed"
    );
    Ok(Profile::from(&user))
}

/// Blocks a user: they can no longer use the bot or the API. Owners and the caller cannot be blocked.
#[utoipa::path(post, path = "/api/admin/users/{id}/block", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The user's Telegram id")),
    responses((status = 200, description = "The user, blocked", body = Profile), AdminErrors, NotFound, Conflict))]
async fn block_user(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Profile>> {
    set_blocked(&state, &admin, id, true)
        .await
        .map(JsonResponse)
}

/// Unblocks a user.
#[utoipa::path(post, path = "/api/admin/users/{id}/unblock", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The user's Telegram id")),
    responses((status = 200, description = "The user, unblocked", body = Profile), AdminErrors, NotFound))]
async fn unblock_user(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Profile>> {
    set_blocked(&state, &admin, id, false)
        .await
        .map(JsonResponse)
}

/// The largest grant or take at once.
pub const MAX_TOKEN_CHANGE: i64 = 1_000_000_000;

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TokenChange {
    /// Tokens to grant (positive) or take (negative); not zero, at most 1,000,000,000 either way.
    #[schema(minimum = -1_000_000_000i64, maximum = 1_000_000_000i64)]
    pub delta: i64,
    /// Why, for the ledger and the audit log (1-200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenBalance {
    pub user_id: i64,
    pub tokens_left: i64,
    pub tokens_spent: i64,
}

/// Grants or takes tokens (through the ledger, reason `admin`); taking more than the user has is
/// refused with 402.
#[utoipa::path(post, path = "/api/admin/users/{id}/tokens", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The user's Telegram id")),
    request_body = TokenChange,
    responses((status = 200, description = "The user's balance after the change", body = TokenBalance),
              AdminErrors, JsonBody, Invalid, NotFound, crate::responses::Insufficient))]
async fn adjust_tokens(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(id): Path<i64>,
    Json(change): Json<TokenChange>,
) -> ApiResult<JsonResponse<TokenBalance>> {
    if change.delta == 0 || change.delta.abs() > MAX_TOKEN_CHANGE {
        return Err(Error::invalid(
            "delta",
            "must be a non-zero number of tokens, at most 1,000,000,000 either way",
        ));
    }
    let reason = change.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(Error::invalid("reason", "must be 1 to 200 characters"));
    }
    let balance = service::admin::adjust_tokens(
        &state.services,
        admin.user.id,
        id,
        change.delta,
        Some(reason),
    )
    .await?;
    tracing::info!(
        admin_id = admin.user.id,
        user_id = id,
        delta = change.delta,
        "tokens adjusted"
    );
    Ok(JsonResponse(TokenBalance {
        user_id: id,
        tokens_left: balance.tokens_left,
        tokens_spent: balance.tokens_spent,
    }))
}

/// Every payment, newest first.
#[utoipa::path(get, path = "/api/admin/payments", tag = "admin", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of payments", body = Paginated<Payment>), AdminErrors, Invalid))]
async fn list_all_payments(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
    Query(params): Query<PageParams>,
) -> ApiResult<JsonResponse<Paginated<Payment>>> {
    let page = params.page()?;
    let db = state.services.db()?;
    let items = payments::list_recent(&**db.conn().await?, page).await?;
    Ok(JsonResponse(Paginated::new(items, page, |p| p.id)))
}

fn default_template() -> String {
    "{prompt}".to_owned()
}

fn default_scale() -> f64 {
    1.0
}

/// A new style.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct StyleInput {
    /// Unique, 1-64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// `{prompt}` stands for the user's prompt (appended when absent); `{prompt}` by default.
    #[serde(default = "default_template")]
    #[schema(min_length = 1, max_length = 1000)]
    pub prompt_template: String,
    /// Extra LoRA weights: a `.safetensors` URL, or a Replicate / Hugging Face reference.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub lora_url: Option<String>,
    /// The LoRA's weight, -1 to 3 (1 by default).
    #[serde(default = "default_scale")]
    #[schema(minimum = -1.0, maximum = 3.0)]
    pub lora_scale: f64,
    /// The extra LoRA's own trigger word (1-32 letters, digits or _).
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_]{1,32}$")]
    pub trigger_word: Option<String>,
    /// An http(s) URL of a sample picture.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub preview_url: Option<String>,
    /// `male` or `female` when the style suits one.
    #[serde(default)]
    pub gender: Option<String>,
    /// Up to 20 tags of 1-24 letters, digits, _ or -.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
}

/// Adds a style to the catalogue (active at once).
#[utoipa::path(post, path = "/api/admin/styles", tag = "admin", security(("tma" = [])),
    request_body = StyleInput,
    responses((status = 201, description = "The style", body = Style), AdminErrors, JsonBody, Invalid, Conflict))]
async fn create_style(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Json(input): Json<StyleInput>,
) -> ApiResult<(StatusCode, JsonResponse<Style>)> {
    let style = style_rules::validate_new(&NewStyle {
        name: input.name,
        description: input.description,
        prompt_template: input.prompt_template,
        lora_url: input.lora_url,
        lora_scale: input.lora_scale,
        trigger_word: input.trigger_word,
        preview_url: input.preview_url,
        gender: input.gender,
        tags: input.tags,
    })?;
    match service::admin::add_style(&state.services, admin.user.id, &style).await? {
        Some(created) => Ok((StatusCode::CREATED, JsonResponse(created))),
        None => Err(Error::new(
            StatusCode::CONFLICT,
            "conflict",
            "a style with this name exists",
        )),
    }
}

/// `null` and absent told apart: `Some(None)` clears a field, `None` leaves it.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Fields to change; absent ones stay as they are, `null` (or `""`) clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct StylePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `{prompt}` stands for the user's prompt.
    pub prompt_template: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub lora_url: Option<Option<String>>,
    #[schema(minimum = -1.0, maximum = 3.0)]
    pub lora_scale: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub trigger_word: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub preview_url: Option<Option<String>>,
    /// `male` or `female`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub gender: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// Changes a style's fields (including `is_active`).
#[utoipa::path(patch, path = "/api/admin/styles/{id}", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The style's id")),
    request_body = StylePatch,
    responses((status = 200, description = "The style as it is now", body = Style),
              AdminErrors, JsonBody, Invalid, NotFound, Conflict))]
async fn update_style(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(id): Path<i64>,
    Json(patch): Json<StylePatch>,
) -> ApiResult<JsonResponse<Style>> {
    let update = style_rules::validate_update(&StyleUpdate {
        name: patch.name,
        description: patch.description,
        prompt_template: patch.prompt_template,
        lora_url: patch.lora_url,
        lora_scale: patch.lora_scale,
        trigger_word: patch.trigger_word,
        preview_url: patch.preview_url,
        gender: patch.gender,
        tags: patch.tags,
        is_active: patch.is_active,
    })?;
    let style = service::styles::update(&state.services, admin.user.id, id, &update).await?;
    Ok(JsonResponse(style))
}

/// Disables a style (it stays in the catalogue, hidden; `PATCH` with `is_active: true` brings it back).
#[utoipa::path(delete, path = "/api/admin/styles/{id}", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The style's id")),
    responses((status = 200, description = "The style, disabled", body = Style), AdminErrors, NotFound))]
async fn disable_style(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Style>> {
    let change = StyleUpdate {
        is_active: Some(false),
        ..Default::default()
    };
    let style = service::styles::update(&state.services, admin.user.id, id, &change).await?;
    Ok(JsonResponse(style))
}
