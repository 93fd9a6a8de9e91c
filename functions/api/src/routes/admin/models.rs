//! Offering a ready model to everyone: `POST /api/admin/models/{id}/system`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::usecases;
use utoipa::ToSchema;

use crate::auth::AdminUser;
use crate::error::{ApiResult, Json, Path};
use crate::responses::{AdminErrors, Conflict, Invalid, JsonBody, NotFound};
use crate::routing::{routes, ApiRouter};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new().routes(routes!(set_system_model))
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
    usecases::admin::set_system_model(&state.services, admin.user.id, id, body.system).await?;
    Ok(StatusCode::NO_CONTENT)
}
