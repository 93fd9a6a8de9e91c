//! Personal models: `GET /api/models`, `GET /api/models/{id}`, `DELETE /api/models/{id}` (user data
//! deletion), `PUT /api/models/{id}/sharing`, `POST /api/models/{id}/preview`; and the models
//! offered to everyone, `GET /api/system-models`. Training one is [`crate::routes::training`].

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use serde::Deserialize;
use shared::domain::status::GenerationStatus;
use shared::repo::{generations, models};
use shared::usecases;
use utoipa::ToSchema;

use crate::auth::{AuthUser, Caller};
use crate::error::{ApiResult, Error, Json, Path, Query};
use crate::pagination::{PageParams, Paginated};
use crate::responses::{AuthErrors, Conflict, Invalid, JsonBody, NotFound, Upstream};
use crate::routing::{routes, ApiRouter};
use crate::views::images::Images;
use crate::views::models::{Deletion, Model, SystemModel};
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(get_model, delete_model))
        .routes(routes!(set_sharing))
        .routes(routes!(set_model_preview))
        .routes(routes!(list_system_models))
}

/// The caller's models, newest first.
#[utoipa::path(get, path = "/api/models", tag = "models", security(("tma" = [])),
    params(PageParams),
    responses((status = 200, description = "A page of the caller's models", body = Paginated<Model>),
              AuthErrors, Invalid))]
async fn list_models(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> ApiResult<JsonResponse<Paginated<Model>>> {
    let page = params.page()?;
    let (_, rows) = caller
        .with(&state, async move |db, user_id| {
            models::list_for_user(db, user_id, page).await
        })
        .await?;
    let images = Images::for_response(&state).await?;
    Ok(JsonResponse(Paginated::map_rows(
        rows,
        page,
        |m| m.id,
        |m| Model::signed(m, &images),
    )))
}

/// One of the caller's models.
#[utoipa::path(get, path = "/api/models/{id}", tag = "models", security(("tma" = [])),
    params(("id" = i64, Path, description = "The model's id")),
    responses((status = 200, description = "The model", body = Model), AuthErrors, NotFound))]
async fn get_model(
    AxumState(state): AxumState<Arc<State>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Model>> {
    let (_, model) = caller
        .with(&state, async move |db, user_id| {
            models::get_owned(db, id, user_id).await
        })
        .await?;
    let model = model.ok_or_else(|| Error::not_found("model"))?;
    let images = Images::for_response(&state).await?;
    Ok(JsonResponse(Model::signed(model, &images)))
}

/// Deletes a model's data: its training photos (and their copies at Replicate), its trained version
/// at Replicate; a training in progress is canceled first. The model stays listed as `canceled`.
/// Deleting again does nothing more.
#[utoipa::path(delete, path = "/api/models/{id}", tag = "models", security(("tma" = [])),
    params(("id" = i64, Path, description = "The model's id")),
    responses((status = 200, description = "The model's data is deleted", body = Deletion),
              AuthErrors, NotFound, Upstream))]
async fn delete_model(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(id): Path<i64>,
) -> ApiResult<JsonResponse<Deletion>> {
    let erased = usecases::deletion::erase_model(&state.services, caller.user.id, id).await?;
    tracing::info!(
        model_id = id,
        photos = erased.photos_removed,
        "model data deleted"
    );
    Ok(JsonResponse(erased.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Sharing {
    /// `true`: the caller agrees to have this model offered to everyone (an owner of the service
    /// may then do so); `false`: withdraws that, and stops any offer at once.
    pub consent: bool,
}

/// Gives or withdraws the caller's consent to have their model offered to everyone.
#[utoipa::path(put, path = "/api/models/{id}/sharing", tag = "models", security(("tma" = [])),
    params(("id" = i64, Path, description = "The model's id")),
    request_body = Sharing,
    responses((status = 204, description = "Changed"), AuthErrors, JsonBody, Invalid, NotFound))]
async fn set_sharing(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<Sharing>,
) -> ApiResult<StatusCode> {
    usecases::sharing::set_consent(&state.services, caller.user.id, id, body.consent).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PreviewChoice {
    /// A delivered generation made with this model; its first photo becomes the preview.
    pub generation_id: i64,
}

/// Chooses the model's preview image (by default it is the first delivered photo).
#[utoipa::path(post, path = "/api/models/{id}/preview", tag = "models", security(("tma" = [])),
    params(("id" = i64, Path, description = "The model's id")),
    request_body = PreviewChoice,
    responses((status = 204, description = "Set"), AuthErrors, JsonBody, Invalid, NotFound, Conflict))]
async fn set_model_preview(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Path(id): Path<i64>,
    Json(body): Json<PreviewChoice>,
) -> ApiResult<StatusCode> {
    let conn = state.conn().await?;
    models::get_owned(&**conn, id, caller.user.id)
        .await?
        .ok_or_else(|| Error::not_found("model"))?;
    let generation = generations::get_owned(&**conn, body.generation_id, caller.user.id)
        .await?
        .filter(|g| g.model_id == Some(id))
        .ok_or_else(|| Error::not_found("generation"))?;
    if generation.status != GenerationStatus::Succeeded {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "conflict",
            "the generation has no delivered photos",
        ));
    }
    // Our copy once there is one (Replicate's URL expires within the hour).
    let key = generation.image_keys.first().map(String::as_str);
    let preview = models::Preview {
        file_id: generation.telegram_file_ids.first().map(String::as_str),
        url: key
            .is_none()
            .then(|| generation.result_urls.first().map(String::as_str))
            .flatten(),
        key,
    };
    models::set_preview(&**conn, id, preview).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ready models admins offer to everyone (generate with them like with your own).
#[utoipa::path(get, path = "/api/system-models", tag = "models", security(("tma" = [])),
    responses((status = 200, description = "System models", body = Vec<SystemModel>), AuthErrors))]
async fn list_system_models(
    AxumState(state): AxumState<Arc<State>>,
    _caller: AuthUser,
) -> ApiResult<JsonResponse<Vec<SystemModel>>> {
    let offered = models::list_system(&**state.conn().await?).await?;
    let images = Images::for_response(&state).await?;
    Ok(JsonResponse(
        offered
            .into_iter()
            .map(|m| SystemModel::signed(m, &images))
            .collect(),
    ))
}
