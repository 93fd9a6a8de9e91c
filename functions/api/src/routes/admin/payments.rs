//! Every payment: `GET /api/admin/payments`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use shared::repo::payments;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminUser;
use crate::error::{ApiResult, Query};
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AdminErrors, Invalid};
use crate::views::payments::Payment;
use crate::State;

pub fn router() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::new().routes(routes!(list_all_payments))
}

/// Every payment, newest first.
#[utoipa::path(get, path = "/api/admin/payments", tag = "admin", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of payments", body = Paginated<Payment>), AdminErrors, Invalid))]
async fn list_all_payments(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
    Query(params): Query<PageParams>,
) -> ApiResult<Json<Paginated<Payment>>> {
    let page = params.page()?;
    let rows = payments::list_recent(&**state.conn().await?, page).await?;
    Ok(Json(Paginated::from_rows(rows, page, |p| p.id)))
}
