//! `GET /api/admin/stats` (users, payments and revenue, models, generations) and
//! `GET /api/admin/insights` (the journey funnel and what users think of the photos).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use shared::repo::{events, feedback, stats};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::error::ApiResult;
use crate::responses::AdminErrors;
use crate::views;
use crate::views::stats::{GlobalStats, Insights};
use crate::State;

pub fn router() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(insights))
}

/// Statistics over everything: users, payments and revenue, models, generations.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Global statistics", body = GlobalStats), AdminErrors))]
async fn stats(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<Json<GlobalStats>> {
    let global = stats::global_statistics(&**state.conn().await?).await?;
    Ok(Json(global.into()))
}

/// The journey funnel and what users think of the photos.
#[utoipa::path(get, path = "/api/admin/insights", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Funnel and ratings", body = Insights), AdminErrors))]
async fn insights(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<Json<Insights>> {
    let conn = state.conn().await?;
    Ok(Json(Insights {
        funnels: views::from_rows(events::funnels(&**conn).await?),
        ratings_by_style: views::from_rows(feedback::by_style(&**conn).await?),
        recent_low_ratings: views::from_rows(feedback::recent_low(&**conn, 20).await?),
    }))
}
