//! What there is to choose from: `GET /api/styles`, `GET /api/packs`.

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::Json;
use serde::Deserialize;
use shared::repo::styles;
use utoipa::IntoParams;

use crate::auth::AuthUser;
use crate::error::{check_text, ApiResult, Query};
use crate::responses::{AuthErrors, Invalid};
use crate::routing::{routes, ApiRouter};
use crate::views;
use crate::views::payments::TokenPack;
use crate::views::styles::CatalogStyle;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_styles))
        .routes(routes!(list_packs))
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StyleFilter {
    /// Only styles with this tag.
    pub tag: Option<String>,
}

/// The active styles (by name), optionally with one tag.
#[utoipa::path(get, path = "/api/styles", tag = "catalog", security(("tma" = [])),
    params(StyleFilter),
    responses((status = 200, description = "Styles to generate with", body = Vec<CatalogStyle>), AuthErrors, Invalid))]
async fn list_styles(
    AxumState(state): AxumState<Arc<State>>,
    _caller: AuthUser,
    Query(filter): Query<StyleFilter>,
) -> ApiResult<Json<Vec<CatalogStyle>>> {
    let tag = match filter
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(tag) => {
            check_text("tag", tag)?;
            // Tags are stored normalised; one that cannot be a tag matches nothing.
            match styles::normalize_tag(tag) {
                Some(tag) => Some(tag),
                None => return Ok(Json(Vec::new())),
            }
        }
        None => None,
    };
    let styles = styles::list_tagged(&**state.conn().await?, false, tag.as_deref()).await?;
    Ok(Json(views::from_rows(styles)))
}

/// The packs of tokens for sale (prices in minor units of their currency).
#[utoipa::path(get, path = "/api/packs", tag = "catalog", security(("tma" = [])),
    responses((status = 200, description = "Token packs", body = Vec<TokenPack>), AuthErrors))]
async fn list_packs(
    AxumState(state): AxumState<Arc<State>>,
    _caller: AuthUser,
) -> ApiResult<Json<Vec<TokenPack>>> {
    Ok(Json(TokenPack::all(&state.services)))
}
