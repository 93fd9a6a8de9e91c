//! Direct uploads: `POST /api/uploads` hands out signed URLs the Mini App `PUT`s each photo to
//! (straight into our bucket: no size limit of API Gateway in the way); `POST /api/train` then takes
//! the upload ids. On one machine the URLs point at [`crate::routes::objects`].

use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::Json as JsonResponse;
use serde::Deserialize;
use shared::db::DbError;
use shared::domain::rules::{self, ImageKind, RuleError};
use shared::repo::uploads::{self, NewUpload};
use shared::storage::{ObjectKey, UPLOAD_KEPT};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiResult, Error, Json};
use crate::idempotency::IdempotencyKey;
use crate::responses::{AuthErrors, Conflict, Invalid, JsonBody};
use crate::routing::{routes, ApiRouter};
use crate::views::uploads::{UploadSlot, UploadSlots};
use crate::State;

/// Uploads one user may have waiting for a training at once (two full sets).
pub const MAX_WAITING_UPLOADS: i64 = 2 * rules::MAX_PHOTOS;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new().routes(routes!(create_uploads))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct UploadRequest {
    /// The photos to upload, 1-20.
    #[schema(min_items = 1, max_items = 20)]
    pub photos: Vec<PlannedPhoto>,
}

/// A photo about to be uploaded.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PlannedPhoto {
    /// `image/jpeg`, `image/png`, `image/webp` or `image/heic`.
    pub content_type: String,
    /// Its exact size in bytes, at most 20 MB (20,971,520).
    pub size: i64,
}

/// Signed upload URLs for up to 20 photos, valid for 15 minutes: `PUT` each photo's bytes to its
/// `url` with the `headers` given (its content type and exact size are part of the signature), then
/// train with `POST /api/train` `{"name", "upload_ids": [...]}`. An upload no training takes is
/// deleted after a day. At most 40 uploads may wait for a training at once.
#[utoipa::path(post, path = "/api/uploads", tag = "models", security(("tma" = [])),
    params(IdempotencyKey),
    request_body = UploadRequest,
    responses((status = 201, description = "Where to put each photo", body = UploadSlots),
              AuthErrors, JsonBody, Invalid, Conflict))]
async fn create_uploads(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    Json(body): Json<UploadRequest>,
) -> ApiResult<(StatusCode, JsonResponse<UploadSlots>)> {
    let n = body.photos.len() as i64;
    if !(1..=rules::MAX_PHOTOS).contains(&n) {
        return Err(Error::invalid(
            "photos",
            format!("1 to {} photos at a time", rules::MAX_PHOTOS),
        ));
    }
    let mut planned = Vec::with_capacity(body.photos.len());
    for (i, photo) in body.photos.iter().enumerate() {
        let refuse = |reason: String| {
            Error::invalid("photos", reason.clone())
                .with_details(serde_json::json!({"field": "photos", "index": i, "reason": reason}))
        };
        let kind = ImageKind::from_mime_type(&photo.content_type)
            .ok_or_else(|| refuse(RuleError::NotAnImage.to_string()))?;
        if photo.size <= 0 {
            return Err(refuse("size must be positive".into()));
        }
        rules::validate_photo(Some(photo.size), Some(kind.mime_type()))
            .map_err(|e| refuse(e.to_string()))?;
        planned.push((kind, photo.size));
    }
    let storage = state.services.storage()?;
    let user_id = caller.user.id;
    let mut conn = state.conn().await?;
    let tx = conn.transaction().await.map_err(DbError::from)?;
    let waiting = uploads::count_waiting_locked(&*tx, user_id).await?;
    if waiting + n > MAX_WAITING_UPLOADS {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "too_many_uploads",
            format!(
                "{waiting} uploads already wait for a training (at most {MAX_WAITING_UPLOADS}); train with them or wait until they expire"
            ),
        ));
    }
    let new: Vec<NewUpload> = planned
        .iter()
        .map(|&(kind, size)| {
            let id = hex::encode(rand::random::<[u8; 16]>());
            NewUpload {
                storage_key: ObjectKey::upload(user_id, &id, kind).as_str().to_owned(),
                id,
                content_type: kind.mime_type().to_owned(),
                size,
            }
        })
        .collect();
    let created = uploads::create_all(&*tx, user_id, &new, UPLOAD_KEPT.as_secs() as i64).await?;
    tx.commit().await.map_err(DbError::from)?;
    drop(conn);
    let signer = storage.signer().await?;
    let mut slots = Vec::with_capacity(created.len());
    for upload in created {
        let key = ObjectKey::parse(&upload.storage_key)
            .ok_or_else(|| Error::bad_request("an upload key did not parse"))?;
        let presigned = signer.upload_url(&key, &upload.content_type, upload.size as u64)?;
        slots.push(UploadSlot::new(upload.id, presigned));
    }
    Ok((
        StatusCode::CREATED,
        JsonResponse(UploadSlots { uploads: slots }),
    ))
}
