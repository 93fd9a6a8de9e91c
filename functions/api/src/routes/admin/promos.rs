//! Promo codes: `GET /api/admin/promos`, `POST /api/admin/promos`,
//! `PATCH /api/admin/promos/{code}`. Users redeem them at [`crate::routes::promo`].

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared::repo::promos::{self, Terms};
use shared::usecases;
use utoipa::ToSchema;

use crate::auth::AdminUser;
use crate::error::{check_text, ApiResult, Error, Json, Path};
use crate::responses::{AdminErrors, Conflict, Invalid, JsonBody, NotFound};
use crate::routing::{routes, ApiRouter};
use crate::views;
use crate::views::promos::PromoCode;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_promos, create_promo))
        .routes(routes!(change_promo))
}

/// Every promo code, newest first.
#[utoipa::path(get, path = "/api/admin/promos", tag = "admin", security(("tma" = [])),
    responses((status = 200, description = "Promo codes", body = Vec<PromoCode>), AdminErrors))]
async fn list_promos(
    AxumState(state): AxumState<Arc<State>>,
    _admin: AdminUser,
) -> ApiResult<JsonResponse<Vec<PromoCode>>> {
    let codes = promos::list(&**state.conn().await?).await?;
    Ok(JsonResponse(views::from_rows(codes)))
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
    let promo = usecases::promo::create(&state.services, admin.user.id, &body.code, &terms).await?;
    Ok((StatusCode::CREATED, JsonResponse(promo.into())))
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
    let promo = usecases::promo::change(
        &state.services,
        admin.user.id,
        &code,
        body.valid_until,
        body.max_uses,
        body.is_active,
    )
    .await?;
    Ok(JsonResponse(promo.into()))
}
