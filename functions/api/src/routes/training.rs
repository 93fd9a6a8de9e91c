//! Training a personal model: `POST /api/train`, from uploaded photos (`multipart/form-data`) or
//! from photo URLs (JSON).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Request, State as AxumState};
use axum::http::{header, StatusCode};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::domain::rules::{self, RuleError};
use shared::fetch::is_forbidden;
use shared::repo::models::{self, NewPhoto};
use shared::services::Services;
use shared::usecases::{self, ServiceError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AuthUser;
use crate::error::{self, check_text, ApiResult, Error};
use crate::responses::{
    AuthErrors, Conflict, Insufficient, Invalid, JsonBody, RateLimited, Upstream,
};
use crate::views::models::Model;
use crate::State;

pub fn router() -> OpenApiRouter<Arc<State>> {
    OpenApiRouter::new().routes(routes!(train))
}

/// A training request as JSON: photos already online.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TrainFromUrls {
    /// The model's name, 1-64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// 10-20 https URLs of photos of one person (JPEG, PNG, WebP or HEIC, at most 20 MB each) on
    /// public hosts, downloaded by the training worker (no redirects are followed; a photo that
    /// cannot be downloaded fails the training, refunded).
    #[schema(min_items = 10, max_items = 20)]
    pub photo_urls: Vec<String>,
}

/// A training request as `multipart/form-data`: the photos themselves (4.5 MB in total at most).
#[derive(Debug, Clone, ToSchema)]
#[allow(dead_code)] // describes the form in the OpenAPI document
pub struct TrainUpload {
    /// The model's name, 1-64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// 10-20 photos of one person, each a JPEG, PNG, WebP or HEIC file of at most 20 MB.
    #[schema(value_type = Vec<String>, format = Binary, min_items = 10, max_items = 20)]
    pub photos: Vec<Vec<u8>>,
}

/// A photo uploaded in the form.
#[derive(Debug, Clone)]
pub struct Upload {
    pub content_type: String,
    pub bytes: Bytes,
}

/// A training form's fields at most: its name, 20 photos, and a few a client may add.
const MAX_FORM_FIELDS: usize = 24;

/// The body of `POST /api/train`, either way.
#[derive(Debug, Clone)]
pub enum TrainInput {
    Upload { name: String, photos: Vec<Upload> },
    Urls(TrainFromUrls),
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        error::too_large()
    } else {
        Error::bad_request(format!("the form could not be read: {}", e.body_text()))
    }
}

impl<S: Send + Sync> FromRequest<S> for TrainInput {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !content_type.starts_with("multipart/form-data") {
            let crate::error::Json(urls) =
                crate::error::Json::<TrainFromUrls>::from_request(req, state).await?;
            return Ok(TrainInput::Urls(urls));
        }
        let mut form = Multipart::from_request(req, state).await.map_err(|e| {
            Error::bad_request(format!("the form could not be read: {}", e.body_text()))
        })?;
        let mut name = None;
        let mut photos = Vec::new();
        let mut fields = 0;
        while let Some(field) = form.next_field().await.map_err(multipart_error)? {
            // Counted while reading: a form of 50,000 parts is refused at the first one too many,
            // before the rest is even parsed.
            fields += 1;
            if fields > MAX_FORM_FIELDS {
                return Err(Error::invalid(
                    "photos",
                    format!("a form has at most {MAX_FORM_FIELDS} fields"),
                ));
            }
            if photos.len() as i64 == rules::MAX_PHOTOS
                && matches!(field.name(), Some("photos") | Some("photos[]"))
            {
                return Err(RuleError::PhotoCount(rules::MAX_PHOTOS + 1).into());
            }
            match field.name() {
                Some("name") => name = Some(field.text().await.map_err(multipart_error)?),
                Some("photos") | Some("photos[]") => {
                    let content_type = field
                        .content_type()
                        .unwrap_or("application/octet-stream")
                        .to_owned();
                    let bytes = field.bytes().await.map_err(multipart_error)?;
                    photos.push(Upload {
                        content_type,
                        bytes,
                    });
                }
                _ => {
                    // Unknown fields are read past and ignored.
                    field.bytes().await.map_err(multipart_error)?;
                }
            }
        }
        let name = name.ok_or_else(|| Error::invalid("name", "the form has no `name` field"))?;
        Ok(TrainInput::Upload { name, photos })
    }
}

/// Photos checked one by one (type and size by the shared rule, then the bytes, which decide the
/// type kept), duplicates once.
fn check_uploads(photos: Vec<Upload>) -> ApiResult<Vec<(String, Upload)>> {
    let mut unique: Vec<(String, Upload)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, photo) in photos.into_iter().enumerate() {
        let size = i64::try_from(photo.bytes.len()).unwrap_or(i64::MAX);
        let mime = photo
            .content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let checked = rules::validate_photo(Some(size), Some(&mime))
            .and_then(|()| rules::sniff_image(&photo.bytes).ok_or(RuleError::NotAnImage));
        let kind = match checked {
            Ok(kind) => kind,
            Err(rule) => {
                let reason = rule.to_string();
                return Err(Error::from(rule).with_details(
                    serde_json::json!({"field": "photos", "index": i, "reason": reason}),
                ));
            }
        };
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&photo.bytes)));
        if seen.insert(digest.clone()) {
            unique.push((
                digest,
                Upload {
                    content_type: kind.mime_type().to_owned(),
                    ..photo
                },
            ));
        }
    }
    Ok(unique)
}

/// A URL the worker may fetch: https, not a local name or a literal refused address, and not our
/// Replicate API (the worker fetches files there with our token, and deletes them after a
/// failure). Only the text is checked here: the worker's guarded fetcher checks the addresses a
/// name resolves to when it connects ([`shared::fetch`]). `allow_private`
/// (`PHOTO_FETCH_ALLOW_PRIVATE`, for local fakes) also lets http and local addresses through.
fn check_photo_url(
    i: usize,
    url: &str,
    replicate_api: &url::Url,
    allow_private: bool,
) -> ApiResult<String> {
    let invalid = |why: &str| {
        Error::invalid("photo_urls", why.to_owned())
            .with_details(serde_json::json!({"field": "photo_urls", "index": i, "reason": why}))
    };
    check_text("photo_urls", url)?;
    let url = url.trim();
    if url.is_empty() || url.len() > 2048 {
        return Err(invalid("each URL is 1 to 2048 characters"));
    }
    let parsed = url::Url::parse(url).map_err(|_| invalid("not an absolute URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("only https URLs"));
    }
    if parsed.host_str() == replicate_api.host_str() {
        return Err(invalid("the URL must not point to our Replicate API"));
    }
    let local = match parsed.host() {
        None => true,
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".internal")
        }
        Some(url::Host::Ipv4(ip)) => is_forbidden(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_forbidden(IpAddr::V6(ip)),
    };
    if local && !allow_private {
        return Err(invalid("the URL must point to a public host"));
    }
    if parsed.scheme() == "http" && !allow_private {
        return Err(invalid("only https URLs"));
    }
    Ok(parsed.to_string())
}

/// Uploads the photos to Replicate's files API (four at a time); the URLs are what we keep.
async fn upload_all(
    services: &Services,
    photos: Vec<(String, Upload)>,
) -> Result<Vec<NewPhoto>, (Vec<String>, ServiceError)> {
    let replicate = match services.replicate() {
        Ok(r) => r,
        Err(e) => return Err((Vec::new(), e.into())),
    };
    let results: Vec<_> = futures::stream::iter(photos.into_iter().enumerate())
        .map(|(i, (digest, photo))| async move {
            let extension = match photo.content_type.as_str() {
                "image/png" => "png",
                "image/webp" => "webp",
                "image/heic" => "heic",
                _ => "jpg",
            };
            let size = photo.bytes.len() as i64;
            replicate
                .upload_file(
                    &format!("photo-{i}.{extension}"),
                    &photo.content_type,
                    photo.bytes.to_vec(),
                )
                .await
                .map(|file| {
                    (
                        file.id,
                        NewPhoto {
                            file_unique_id: digest,
                            telegram_file_id: None,
                            source_url: Some(file.urls.get),
                            file_size: Some(size),
                            mime_type: Some(photo.content_type.clone()),
                        },
                    )
                })
        })
        .buffered(4)
        .collect()
        .await;
    let mut uploaded = Vec::new();
    let mut file_ids = Vec::new();
    let mut failure = None;
    for result in results {
        match result {
            Ok((id, photo)) => {
                file_ids.push(id);
                uploaded.push(photo);
            }
            Err(e) => failure = Some(ServiceError::from(e)),
        }
    }
    match failure {
        None => Ok(uploaded),
        Some(e) => Err((file_ids, e)),
    }
}

/// Best effort: files we uploaded for a request that failed.
async fn delete_files(services: &Services, file_ids: &[String]) {
    let Ok(replicate) = services.replicate() else {
        return;
    };
    for id in file_ids {
        if let Err(e) = replicate.delete_file(id).await {
            tracing::warn!(error = %e, "could not delete an uploaded photo");
        }
    }
}

/// Records the draft with its photos and pays for and queues its training.
async fn record_and_submit(
    services: &Services,
    user_id: i64,
    name: &str,
    photos: &[NewPhoto],
) -> Result<models::Model, (Option<i64>, ServiceError)> {
    let db = services.db();
    let draft = usecases::training::start_draft(db, user_id, name)
        .await
        .map_err(|e| (None, e))?;
    let fail = |e: ServiceError| (Some(draft.id), e);
    {
        let mut conn = db.conn().await.map_err(|e| fail(e.into()))?;
        let tx = conn.transaction().await.map_err(|e| fail(e.into()))?;
        let model = models::get_for_update(&*tx, draft.id)
            .await
            .map_err(|e| fail(e.into()))?
            .ok_or_else(|| fail(ServiceError::NotFound("model")))?;
        for photo in photos {
            usecases::training::add_photo(&*tx, &model, photo)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(|e| fail(e.into()))?;
    }
    usecases::training::submit(services, user_id, draft.id)
        .await
        .map_err(fail)
}

/// Trains a personal model from 10-20 photos of one person: a `multipart/form-data` upload
/// (`name` + `photos` files; 4.5 MB in total at most through API Gateway) or JSON with `photo_urls`
/// (for bigger sets). Uploaded photos go to Replicate's file storage, not ours. The training's cost
/// is debited and the model is queued: 202 with the model, which becomes `training` and then
/// `ready` (or `failed`, refunded). Rate limited per user (3 an hour by default; requests refused
/// for their input do not count).
#[utoipa::path(post, path = "/api/train", tag = "models", security(("tma" = [])),
    request_body(content(
        (TrainFromUrls = "application/json"),
        (TrainUpload = "multipart/form-data"),
    )),
    responses((status = 202, description = "The model is paid for and queued", body = Model),
              AuthErrors, JsonBody, Invalid, Insufficient, Conflict, RateLimited, Upstream))]
async fn train(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    input: TrainInput,
) -> ApiResult<(StatusCode, Json<Model>)> {
    let services = &state.services;
    let user = &caller.user;
    let (name, source) = match input {
        TrainInput::Upload { name, photos } => (name, Ok(photos)),
        TrainInput::Urls(TrainFromUrls { name, photo_urls }) => (name, Err(photo_urls)),
    };
    check_text("name", &name)?;
    let name = rules::validate_model_name(&name)?;

    let photos: Vec<NewPhoto> = match source {
        Ok(uploads) => {
            let uploads = check_uploads(uploads)?;
            rules::validate_photo_count(uploads.len() as i64)?;
            check_balance(services, user)?;
            crate::limits::enforce(&state, user.id, &state.limits.training).await?;
            match upload_all(services, uploads).await {
                Ok(photos) => photos,
                Err((uploaded, e)) => {
                    delete_files(services, &uploaded).await;
                    return Err(e.into());
                }
            }
        }
        Err(urls) => {
            // Bounded before any work per URL (duplicates aside, more could never be trained).
            if urls.len() > rules::MAX_PHOTOS as usize {
                return Err(RuleError::PhotoCount(urls.len() as i64).into());
            }
            let ours = &services.config.replicate.api_url;
            let allow_private = services.config.photo_fetch.allow_private;
            let mut photos: Vec<NewPhoto> = Vec::new();
            for (i, url) in urls.iter().enumerate() {
                let url = check_photo_url(i, url, ours, allow_private)?;
                let digest = format!("url-sha256:{}", hex::encode(Sha256::digest(url.as_bytes())));
                if photos.iter().all(|p| p.file_unique_id != digest) {
                    photos.push(NewPhoto {
                        file_unique_id: digest,
                        telegram_file_id: None,
                        source_url: Some(url),
                        file_size: None,
                        mime_type: None,
                    });
                }
            }
            rules::validate_photo_count(photos.len() as i64)?;
            check_balance(services, user)?;
            crate::limits::enforce(&state, user.id, &state.limits.training).await?;
            photos
        }
    };

    match record_and_submit(services, user.id, &name, &photos).await {
        Ok(model) => {
            tracing::info!(
                model_id = model.id,
                photos = photos.len(),
                "training queued"
            );
            Ok((StatusCode::ACCEPTED, Json(model.into())))
        }
        Err((draft, e)) => {
            // Nothing was charged: nothing of the request is kept, here or at Replicate.
            let ids: Vec<String> = photos
                .iter()
                .filter_map(|p| p.source_url.as_deref())
                .filter_map(|u| shared::replicate::file_id(&services.config.replicate.api_url, u))
                .collect();
            delete_files(services, &ids).await;
            if let Some(model_id) = draft {
                let removed = match services.db().conn().await {
                    Ok(conn) => shared::repo::erasure::delete_draft(&**conn, model_id)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                if let Err(cleanup) = removed {
                    tracing::warn!(error = %cleanup, model_id, "could not remove the draft of a failed training request");
                }
            }
            Err(e.into())
        }
    }
}

/// Refuses before anything is uploaded when the balance cannot cover the training (the debit itself
/// checks again, atomically).
fn check_balance(services: &Services, user: &shared::repo::users::User) -> ApiResult<()> {
    let required = rules::training_cost(&services.config.product);
    if user.tokens_left < required {
        return Err(ServiceError::InsufficientTokens {
            available: user.tokens_left,
            required,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_urls_must_be_public_https_and_not_our_replicate_api() {
        let ours = url::Url::parse("https://api.replicate.com/v1").unwrap();
        let check = |i, url| check_photo_url(i, url, &ours, false);
        assert!(check(0, "https://cdn.example.com/a.jpg").is_ok());
        assert!(check(0, "https://8.8.8.8/a.jpg").is_ok());
        for bad in [
            "ftp://example.com/a.jpg",
            "http://cdn.example.com/a.jpg",
            "https://127.0.0.1/a.jpg",
            "https://2130706433/a.jpg",
            "https://100.64.0.1/a.jpg",
            "https://198.18.0.1/a.jpg",
            "https://[64:ff9b::7f00:1]/a",
            "https://[2002:7f00:1::]/a",
            "https://[2001::1]/a",
            "https://[fec0::1]/a",
            "https://[::127.0.0.1]/a",
            "http://localhost/a.jpg",
            "http://127.0.0.1/a.jpg",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.1/a",
            "http://[::1]/a",
            "http://[fd00::1]/a",
            "http://[::ffff:127.0.0.1]/a",
            "https://api.replicate.com/v1/files/abc/download",
            "not a url",
            "",
        ] {
            assert!(check(0, bad).is_err(), "{bad} must be refused");
        }
        // For local fakes only.
        let local = |url| check_photo_url(0, url, &ours, true);
        assert!(local("http://127.0.0.1:9000/a.jpg").is_ok());
        assert!(local("ftp://127.0.0.1/a.jpg").is_err());
        assert!(local("https://api.replicate.com/v1/files/abc/download").is_err());
    }
}
