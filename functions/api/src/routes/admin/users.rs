//! Users: find them (`GET /api/admin/users`), block and unblock them, grant or take tokens.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json as JsonResponse;
use serde::Deserialize;
use shared::repo::costs::{self, UsdRates};
use shared::repo::users;
use shared::usecases;
use utoipa::{IntoParams, ToSchema};

use crate::auth::AdminUser;
use crate::error::{check_text, ApiResult, Error, Json, Path, Query};
use crate::idempotency::IdempotencyKey;
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AdminErrors, Conflict, Insufficient, Invalid, JsonBody, NotFound};
use crate::routing::{routes, ApiRouter};
use crate::views;
use crate::views::costs::Economics;
use crate::views::users::{Profile, TokenBalance};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(block_user))
        .routes(routes!(unblock_user))
        .routes(routes!(adjust_tokens))
        .routes(routes!(user_costs))
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
    let conn = state.conn().await?;
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
                items: views::from_rows(found),
                next_cursor: None,
            }))
        }
        None => {
            let found = users::list(&**conn, page).await?;
            Ok(JsonResponse(Paginated::from_rows(found, page, |u| u.id)))
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
        usecases::admin::set_blocked(&state.services, admin.user.id, user_id, blocked).await?;
    tracing::info!(
        admin_id = admin.user.id,
        user_id,
        blocked,
        "user block changed"
    );
    Ok(Profile::from(user))
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

/// What a user paid us against what their Replicate jobs cost, over all time.
#[utoipa::path(get, path = "/api/admin/users/{id}/costs", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The user's Telegram id")),
    responses((status = 200, description = "The user's revenue, cost and margin", body = Economics), AdminErrors, NotFound))]
async fn user_costs(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Economics>> {
    let rates = UsdRates::new(&state.services.config.costs.usd_rates);
    let conn = state.conn().await?;
    let (user, economics) = tokio::try_join!(
        users::get(&**conn, id),
        costs::for_user(&**conn, id, &rates)
    )?;
    user.ok_or(Error::not_found("user"))?;
    Ok(JsonResponse(economics.into()))
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

/// Grants or takes tokens (through the ledger, reason `admin`); taking more than the user has is
/// refused with 402.
#[utoipa::path(post, path = "/api/admin/users/{id}/tokens", tag = "admin", security(("tma" = [])),
    params(("id" = i64, Path, description = "The user's Telegram id"), IdempotencyKey),
    request_body = TokenChange,
    responses((status = 200, description = "The user's balance after the change", body = TokenBalance),
              AdminErrors, JsonBody, Invalid, NotFound, Insufficient))]
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
    let balance = usecases::admin::adjust_tokens(
        &state.services,
        admin.user.id,
        id,
        change.delta,
        Some(reason),
        None,
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
