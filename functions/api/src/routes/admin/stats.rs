//! `GET /api/admin/stats` (users, payments and revenue, models, generations, margins),
//! `GET /api/admin/costs` (revenue against Replicate's costs, day by day) and
//! `GET /api/admin/insights` (the journey funnel and what users think of the photos).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use serde::Deserialize;
use shared::repo::costs::{self, UsdRates};
use shared::repo::{events, feedback, stats};
use utoipa::IntoParams;

use crate::auth::AdminUser;
use crate::error::{ApiResult, Error, Query};
use crate::responses::{AdminErrors, Invalid};
use crate::routing::{routes, ApiRouter};
use crate::views;
use crate::views::costs::Day;
use crate::views::stats::{GlobalStats, Insights};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(stats))
        .routes(routes!(insights))
        .routes(routes!(daily_costs))
}

/// Statistics over everything: users, payments and revenue, models, generations.
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Global statistics", body = GlobalStats), AdminErrors))]
async fn stats(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<Json<GlobalStats>> {
    let rates = UsdRates::new(&state.services.config.costs.usd_rates);
    let global = stats::global_statistics(&**state.conn().await?, &rates).await?;
    Ok(Json(global.into()))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DaysParams {
    /// How many days, today the last (1-365, 30 by default).
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<i32>,
}

/// Revenue against Replicate's costs and the margin, for each of the last days (UTC), oldest first.
#[utoipa::path(get, path = "/api/admin/costs", tag = "admin", security(("tma" = [])),
    params(DaysParams),
    responses((status = 200, description = "One entry a day", body = Vec<Day>), AdminErrors, Invalid))]
async fn daily_costs(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
    Query(params): Query<DaysParams>,
) -> ApiResult<Json<Vec<Day>>> {
    let days = params.days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(Error::invalid("days", "must be 1 to 365"));
    }
    let rates = UsdRates::new(&state.services.config.costs.usd_rates);
    let daily = costs::daily(&**state.conn().await?, days, &rates).await?;
    Ok(Json(views::from_rows(daily)))
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
