//! The style catalogue: `POST /api/admin/styles`, `PATCH /api/admin/styles/{id}`,
//! `DELETE /api/admin/styles/{id}` (disables).

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use serde::{Deserialize, Deserializer};
use shared::repo::styles::{NewStyle, StyleUpdate};
use shared::usecases::{self, styles as style_rules};
use utoipa::ToSchema;

use crate::auth::AdminUser;
use crate::error::{ApiResult, Error, Json, Path};
use crate::responses::{AdminErrors, Conflict, Invalid, JsonBody, NotFound};
use crate::routing::{routes, ApiRouter};
use crate::views::styles::Style;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(create_style))
        .routes(routes!(update_style, disable_style))
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
    match usecases::admin::add_style(&state.services, admin.user.id, &style).await? {
        Some(created) => Ok((StatusCode::CREATED, JsonResponse(created.into()))),
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
    let style = usecases::styles::update(&state.services, admin.user.id, id, &update).await?;
    Ok(JsonResponse(style.into()))
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
    let style = usecases::styles::update(&state.services, admin.user.id, id, &change).await?;
    Ok(JsonResponse(style.into()))
}
