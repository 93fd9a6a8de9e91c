//! Owners only: the admins they added (`GET /api/admin/admins`, `POST /api/admin/admins`,
//! `DELETE /api/admin/admins/{user_id}`) and the audit log of what admins did
//! (`GET /api/admin/actions`).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use serde::Deserialize;
use shared::repo::admins;
use shared::usecases;
use utoipa::ToSchema;

use super::owner_only;
use crate::auth::AdminUser;
use crate::error::{ApiResult, Error, Json, Path, Query};
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AdminErrors, Conflict, Invalid, JsonBody, NotFound};
use crate::routing::{routes, ApiRouter};
use crate::views;
use crate::views::admins::{ActionEntry, Admins};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_admins, add_admin))
        .routes(routes!(remove_admin))
        .routes(routes!(list_actions))
}

/// Owners and the admins they added (owners only).
#[utoipa::path(get, path = "/api/admin/admins", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Owners and admins", body = Admins), AdminErrors))]
async fn list_admins(
    AxumState(state): AxumState<Arc<State>>,
    admin: AdminUser,
) -> ApiResult<JsonResponse<Admins>> {
    owner_only(&admin)?;
    let added = admins::list(&**state.conn().await?).await?;
    Ok(JsonResponse(Admins {
        owners: state.services.config.admin_ids.clone(),
        admins: views::from_rows(added),
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
    usecases::admin::change_admin(&state.services, admin.user.id, body.user_id, true).await?;
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
    if !usecases::admin::change_admin(&state.services, admin.user.id, user_id, false).await? {
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
    let entries = admins::actions(&**state.conn().await?, page).await?;
    Ok(JsonResponse(Paginated::from_rows(entries, page, |e| e.id)))
}
