//! Training a personal model: `POST /api/train`, from photos uploaded beforehand to our bucket
//! (`upload_ids`, see [`crate::routes::uploads`]), sent in the request (`multipart/form-data`, small
//! sets), or given as URLs (`photo_urls`). Every photo ends up in our bucket, under the model.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Request, State as AxumState};
use axum::http::{header, StatusCode};
use axum::Json;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use shared::db::DbError;
use shared::domain::rules::{self, ImageKind, RuleError};
use shared::domain::status::ModelStatus;
use shared::fetch::is_forbidden;
use shared::repo::models::{self, NewPhoto};
use shared::repo::uploads;
use shared::services::Services;
use shared::storage::{ObjectKey, Storage};
use shared::usecases::training::Checked;
use shared::usecases::{self, ServiceError};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{self, check_text, ApiResult, Error};
use crate::idempotency::IdempotencyKey;
use crate::responses::{
    AuthErrors, Conflict, Insufficient, JsonBody, NotFound, RateLimited, TrainInvalid, Upstream,
};
use crate::routing::{routes, ApiRouter};
use crate::views::images::Images;
use crate::views::models::{Model, QueuedModel};
use crate::views::photos::PhotoVerdict;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .routes(routes!(train))
        .routes(routes!(retrain))
}

/// A training request as JSON: `upload_ids` (photos uploaded through `POST /api/uploads`), or
/// `photo_urls`; exactly one of the two.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TrainRequest {
    /// The model's name, 1-64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// 10-20 upload ids from `POST /api/uploads`, each photo `PUT` to its URL already.
    #[serde(default)]
    #[schema(min_items = 10, max_items = 20)]
    pub upload_ids: Option<Vec<String>>,
    /// Or 10-20 https URLs of photos of one person (JPEG, PNG, WebP or HEIC, at most 20 MB each) on
    /// public hosts, downloaded by the training worker into our bucket (no redirects are followed;
    /// a photo that cannot be downloaded fails the training, refunded).
    #[serde(default)]
    #[schema(min_items = 10, max_items = 20)]
    pub photo_urls: Option<Vec<String>>,
    /// Keep the photos after the training (to train again with them); by default they are deleted
    /// from our bucket when the training ends.
    #[serde(default)]
    pub keep_photos: bool,
}

/// A retraining request: the photos to add to those the model was trained on (`upload_ids` or
/// `photo_urls`, exactly one of the two; 10-20 photos in all).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RetrainRequest {
    /// 1-20 upload ids from `POST /api/uploads`, each photo `PUT` to its URL already.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 20)]
    pub upload_ids: Option<Vec<String>>,
    /// Or 1-20 https URLs of photos on public hosts (as in `TrainRequest.photo_urls`).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 20)]
    pub photo_urls: Option<Vec<String>>,
    /// Keep the photos after the training; by default as the model being retrained does.
    #[serde(default)]
    pub keep_photos: Option<bool>,
}

/// How many photos a request must give: a training's 10-20, or what a retraining adds to those it
/// carries over.
#[derive(Debug, Clone, Copy)]
enum Wanted {
    Training,
    Adding { carried: i64 },
}

impl Wanted {
    fn check(self, given: usize) -> Result<(), RuleError> {
        match self {
            Wanted::Training => rules::validate_photo_count(given as i64),
            Wanted::Adding { carried } => rules::validate_added_photos(carried, given as i64),
        }
    }
}

/// The draft a request trains: a new one, or the retraining of a ready model.
#[derive(Debug, Clone, Copy)]
enum Draft<'a> {
    New { name: &'a str },
    Retrain { model_id: i64 },
}

/// What a request trains: its draft, its photos and their checks (`None` with the check off).
#[derive(Clone, Copy)]
struct Submission<'a> {
    draft: Draft<'a>,
    keep_photos: bool,
    photos: &'a Photos,
    checked: Option<&'a [Option<Checked>]>,
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
    /// `true` keeps the photos after the training (see `TrainRequest.keep_photos`).
    pub keep_photos: Option<bool>,
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
    Form {
        name: String,
        photos: Vec<Upload>,
        keep_photos: bool,
    },
    Json(TrainRequest),
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
            let crate::error::Json(request) =
                crate::error::Json::<TrainRequest>::from_request(req, state).await?;
            return Ok(TrainInput::Json(request));
        }
        let mut form = Multipart::from_request(req, state).await.map_err(|e| {
            Error::bad_request(format!("the form could not be read: {}", e.body_text()))
        })?;
        let mut name = None;
        let mut keep_photos = false;
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
                Some("keep_photos") => {
                    let value = field.text().await.map_err(multipart_error)?;
                    keep_photos = match value.trim() {
                        "true" | "1" => true,
                        "false" | "0" | "" => false,
                        _ => return Err(Error::invalid("keep_photos", "true or false")),
                    };
                }
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
        Ok(TrainInput::Form {
            name,
            photos,
            keep_photos,
        })
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

/// Where a training's photos come from, checked and not yet placed under the model.
enum Photos {
    /// Sent in the form: put into the bucket.
    Sent(Vec<(String, Upload)>),
    /// Uploaded beforehand: copied in the bucket from `uploads/` to the model.
    Uploaded(Vec<uploads::Upload>),
    /// URLs the worker downloads (into the bucket) when the training starts.
    Urls(Vec<NewPhoto>),
}

impl Photos {
    fn len(&self) -> usize {
        match self {
            Photos::Sent(p) => p.len(),
            Photos::Uploaded(p) => p.len(),
            Photos::Urls(p) => p.len(),
        }
    }
}

/// The caller's uploads named by `ids` (each once): waiting for a training, and in the bucket with
/// the size and type they were announced with.
async fn uploaded_photos(
    state: &State,
    storage: &Storage,
    user_id: i64,
    ids: &[String],
    wanted: Wanted,
) -> ApiResult<Vec<uploads::Upload>> {
    if ids.len() > rules::MAX_PHOTOS as usize {
        return Err(RuleError::PhotoCount(ids.len() as i64).into());
    }
    let mut unique: Vec<String> = Vec::new();
    for id in ids {
        if !unique.contains(id) {
            unique.push(id.clone());
        }
    }
    wanted.check(unique.len())?;
    let found = uploads::waiting_among(&**state.conn().await?, user_id, &unique).await?;
    let refuse = |i: usize, reason: String| {
        Error::invalid("upload_ids", reason.clone())
            .with_details(serde_json::json!({"field": "upload_ids", "index": i, "reason": reason}))
    };
    let mut ordered = Vec::with_capacity(unique.len());
    for (i, id) in unique.iter().enumerate() {
        let upload = found.iter().find(|u| &u.id == id).cloned().ok_or_else(|| {
            refuse(
                i,
                format!("no upload {id} waits for a training (unknown, expired, or trained with already)"),
            )
        })?;
        ordered.push((i, upload));
    }
    let checked: Vec<ApiResult<uploads::Upload>> = futures::stream::iter(ordered)
        .map(|(i, upload)| async move {
            let key = ObjectKey::parse(&upload.storage_key)
                .ok_or_else(|| refuse(i, "an upload key did not parse".into()))?;
            let size = match storage.size(&key).await? {
                None => return Err(refuse(i, format!("upload {} was never PUT", upload.id))),
                Some(size) if size != upload.size as u64 => {
                    return Err(refuse(
                        i,
                        format!(
                            "upload {} has {size} bytes, not the {} announced",
                            upload.id, upload.size
                        ),
                    ))
                }
                Some(size) => size,
            };
            let head = storage.first_bytes(&key, size, 64).await?;
            if rules::sniff_image(&head) != Some(key.kind()) {
                return Err(refuse(
                    i,
                    format!(
                        "upload {} is not the {} announced",
                        upload.id, upload.content_type
                    ),
                ));
            }
            Ok(upload)
        })
        .buffered(8)
        .collect()
        .await;
    checked.into_iter().collect()
}

/// Puts the photos under the draft in the bucket; what `record` then stores. On error, whatever was
/// placed is under the model's prefix, which the caller deletes.
async fn place(
    storage: &Storage,
    user_id: i64,
    model_id: i64,
    photos: &Photos,
) -> ApiResult<Vec<NewPhoto>> {
    match photos {
        Photos::Urls(photos) => Ok(photos.clone()),
        Photos::Sent(sent) => {
            let placed: Vec<ApiResult<NewPhoto>> = futures::stream::iter(sent.iter().cloned())
                .map(|(digest, photo)| async move {
                    let kind =
                        ImageKind::from_mime_type(&photo.content_type).unwrap_or(ImageKind::Jpeg);
                    let name = digest
                        .trim_start_matches("sha256:")
                        .get(..32)
                        .unwrap_or("photo");
                    let key = ObjectKey::training_photo(user_id, model_id, name, kind);
                    storage
                        .put(&key, photo.bytes.clone(), kind.mime_type())
                        .await?;
                    Ok(NewPhoto {
                        file_unique_id: digest,
                        file_size: Some(photo.bytes.len() as i64),
                        mime_type: Some(kind.mime_type().to_owned()),
                        storage_key: Some(key.as_str().to_owned()),
                        ..NewPhoto::default()
                    })
                })
                .buffered(4)
                .collect()
                .await;
            placed.into_iter().collect()
        }
        Photos::Uploaded(uploaded) => {
            let placed: Vec<ApiResult<NewPhoto>> = futures::stream::iter(uploaded.iter().cloned())
                .map(|upload| async move {
                    let from = ObjectKey::parse(&upload.storage_key)
                        .ok_or_else(|| Error::bad_request("an upload key did not parse"))?;
                    let to = ObjectKey::training_photo(user_id, model_id, &upload.id, from.kind());
                    storage.copy(&from, &to).await?;
                    Ok(NewPhoto {
                        file_unique_id: format!("upload:{}", upload.id),
                        file_size: Some(upload.size),
                        mime_type: Some(upload.content_type),
                        storage_key: Some(to.as_str().to_owned()),
                        ..NewPhoto::default()
                    })
                })
                .buffered(8)
                .collect()
                .await;
            placed.into_iter().collect()
        }
    }
}

/// Reads every photo of the request (URLs are downloaded now, and then kept like photos sent in
/// the form) and measures it. `None` when the check is off. Fewer than 10 good photos: refused with
/// every photo's verdict, before anything is recorded or charged.
async fn check_photos(
    services: &Services,
    storage: &Storage,
    photos: Photos,
    carried: i64,
) -> ApiResult<(Photos, Option<Vec<Option<Checked>>>)> {
    let Some(checker) = services.photo_check.as_deref() else {
        return Ok((photos, None));
    };
    let (photos, bytes): (Photos, Vec<Vec<u8>>) = match photos {
        Photos::Sent(sent) => {
            let bytes = sent.iter().map(|(_, u)| u.bytes.to_vec()).collect();
            (Photos::Sent(sent), bytes)
        }
        Photos::Uploaded(uploaded) => {
            let read: Vec<ApiResult<Vec<u8>>> = futures::stream::iter(uploaded.iter().cloned())
                .map(|upload| async move {
                    let key = ObjectKey::parse(&upload.storage_key)
                        .ok_or_else(|| Error::bad_request("an upload key did not parse"))?;
                    Ok(storage.get(&key).await?.to_vec())
                })
                .buffered(4)
                .collect()
                .await;
            let bytes = read.into_iter().collect::<ApiResult<_>>()?;
            (Photos::Uploaded(uploaded), bytes)
        }
        Photos::Urls(urls) => {
            let sent = downloaded(services, &urls).await?;
            let bytes = sent.iter().map(|(_, u)| u.bytes.to_vec()).collect();
            (Photos::Sent(sent), bytes)
        }
    };
    let mut checked = Vec::with_capacity(bytes.len());
    for photo in bytes {
        checked.push(usecases::training::measure_photo(services, photo).await);
    }
    let verdicts = usecases::training::judge_all(&checked);
    let good = verdicts.iter().filter(|v| v.is_none()).count() as i64;
    if good + carried < rules::MIN_PHOTOS {
        let views = verdict_views(checker.thresholds(), &checked, &verdicts);
        return Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "photos_rejected",
            format!(
                "{good} of the photos passed the check; a training needs at least {}: replace the others",
                rules::MIN_PHOTOS
            ),
        )
        .with_details(serde_json::json!({
            "field": "photos",
            "good": good,
            "needed": rules::MIN_PHOTOS,
            "photos": views,
        })));
    }
    Ok((photos, Some(checked)))
}

/// The photos of a `photo_urls` request, downloaded within the job's download deadline (through
/// the guarded fetcher), as photos sent in the form.
async fn downloaded(services: &Services, urls: &[NewPhoto]) -> ApiResult<Vec<(String, Upload)>> {
    let deadline = tokio::time::Instant::now() + services.photos.job_timeout;
    let fetched: Vec<ApiResult<(String, Upload)>> =
        futures::stream::iter(urls.iter().cloned().enumerate())
        .map(|(i, photo)| async move {
            let refuse = |reason: &str| {
                Error::invalid("photo_urls", reason.to_owned()).with_details(
                    serde_json::json!({"field": "photo_urls", "index": i, "reason": reason}),
                )
            };
            let url: url::Url = photo
                .source_url
                .as_deref()
                .and_then(|u| u.parse().ok())
                .ok_or_else(|| refuse(shared::fetch::COULD_NOT_DOWNLOAD))?;
            let got = services.photos.fetch(&url, deadline).await.map_err(|e| {
                tracing::warn!(index = i, host = ?url.host_str(), error = %e, "a photo URL could not be downloaded for its check");
                refuse(e.user_text())
            })?;
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&got.bytes)));
            Ok((
                digest,
                Upload {
                    content_type: got.kind.mime_type().to_owned(),
                    bytes: Bytes::from(got.bytes),
                },
            ))
        })
        .buffered(4)
        .collect()
        .await;
    fetched.into_iter().collect()
}

/// Each photo's verdict, as the API shows it.
fn verdict_views(
    thresholds: &shared::domain::photos::Thresholds,
    checked: &[Option<Checked>],
    verdicts: &[Option<shared::domain::photos::Problem>],
) -> Vec<PhotoVerdict> {
    checked
        .iter()
        .zip(verdicts)
        .enumerate()
        .map(|(i, (c, v))| {
            let measured = c.as_ref().and_then(|c| c.measured.as_ref().ok());
            PhotoVerdict::new(i, measured, *v, thresholds)
        })
        .collect()
}

/// Records the draft with its photos (taking the uploads it was given, once; each judged by the
/// check when `checked`) and pays for and queues its training.
async fn record_and_submit(
    services: &Services,
    storage: &Storage,
    user_id: i64,
    request: Submission<'_>,
) -> Result<models::Model, (Option<i64>, Error)> {
    let Submission {
        draft,
        keep_photos,
        photos,
        checked,
    } = request;
    let db = services.db();
    let (draft, started) = match draft {
        Draft::New { name } => (
            usecases::training::start_draft(db, user_id, name).await,
            true,
        ),
        Draft::Retrain { model_id } => {
            match usecases::training::start_retrain(db, user_id, model_id).await {
                Ok((draft, started)) => (Ok(draft), started),
                Err(e) => (Err(e), false),
            }
        }
    };
    let draft = draft.map_err(|e| (None, e.into()))?;
    // A draft this request did not start (a retraining begun in the bot) is not removed on failure.
    let fail = |e: Error| (started.then_some(draft.id), e);
    let placed = place(storage, user_id, draft.id, photos)
        .await
        .map_err(fail)?;
    {
        let mut conn = db.conn().await.map_err(|e| fail(e.into()))?;
        let tx = conn
            .transaction()
            .await
            .map_err(|e| fail(DbError::from(e).into()))?;
        let model = models::get_for_update(&*tx, draft.id)
            .await
            .map_err(|e| fail(e.into()))?
            .ok_or_else(|| fail(Error::not_found("model")))?;
        if let Photos::Uploaded(uploaded) = photos {
            let ids: Vec<String> = uploaded.iter().map(|u| u.id.clone()).collect();
            let taken = uploads::take(&*tx, user_id, &ids, draft.id)
                .await
                .map_err(|e| fail(e.into()))?;
            if taken != ids.len() as u64 {
                return Err(fail(Error::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "another training took some of these uploads",
                )));
            }
        }
        for (i, photo) in placed.iter().enumerate() {
            let checked = checked.and_then(|c| c.get(i)).and_then(Option::as_ref);
            usecases::training::add_checked_photo(&*tx, &model, photo, checked)
                .await
                .map_err(|e| fail(e.into()))?;
        }
        if keep_photos {
            models::set_keep_photos(&*tx, draft.id, true)
                .await
                .map_err(|e| fail(e.into()))?;
        }
        tx.commit()
            .await
            .map_err(|e| fail(DbError::from(e).into()))?;
    }
    let model = usecases::training::submit(services, user_id, draft.id)
        .await
        .map_err(|e| fail(e.into()))?;
    if let Photos::Uploaded(uploaded) = photos {
        // Copied under the model: the uploads themselves are no longer needed (what is left
        // expires with the bucket's rule, or housekeeping on one machine).
        for upload in uploaded {
            if let Some(key) = ObjectKey::parse(&upload.storage_key) {
                if let Err(e) = storage.delete(&key).await {
                    tracing::warn!(error = %e, "an upload taken by a training could not be deleted");
                }
            }
        }
    }
    Ok(model)
}

/// Trains a personal model from 10-20 photos of one person, given one of three ways: `upload_ids`
/// (photos `PUT` to the URLs of `POST /api/uploads`: the way for a Mini App, any size), a
/// `multipart/form-data` upload (`name` + `photos` files, 4.5 MB in all through API Gateway), or
/// `photo_urls` (public https URLs the worker downloads). Every photo is kept in our bucket under
/// the model, and deleted when the training ends unless `keep_photos`. The training's cost is
/// debited and the model is queued: 202 with the model, which becomes `training` and then `ready`
/// (or `failed`, refunded). Rate limited per user (3 an hour by default; requests refused for
/// their input do not count).
#[utoipa::path(post, path = "/api/train", tag = "models", security(("tma" = [])),
    params(IdempotencyKey),
    request_body(content(
        (TrainRequest = "application/json"),
        (TrainUpload = "multipart/form-data"),
    )),
    responses((status = 202, description = "The model is paid for and queued, with each photo's verdict", body = QueuedModel),
              AuthErrors, JsonBody, TrainInvalid, Insufficient, Conflict, RateLimited, Upstream))]
async fn train(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    input: TrainInput,
) -> ApiResult<(StatusCode, Json<QueuedModel>)> {
    let services = &state.services;
    let user = &caller.user;
    let (name, keep_photos) = match &input {
        TrainInput::Form {
            name, keep_photos, ..
        } => (name.clone(), *keep_photos),
        TrainInput::Json(request) => (request.name.clone(), request.keep_photos),
    };
    check_text("name", &name)?;
    let name = rules::validate_model_name(&name)?;
    let storage = services.storage()?;

    let photos = match input {
        TrainInput::Form { photos, .. } => {
            let sent = check_uploads(photos)?;
            rules::validate_photo_count(sent.len() as i64)?;
            Photos::Sent(sent)
        }
        TrainInput::Json(TrainRequest {
            upload_ids: Some(ids),
            photo_urls: None,
            ..
        }) => Photos::Uploaded(
            uploaded_photos(&state, storage, user.id, &ids, Wanted::Training).await?,
        ),
        TrainInput::Json(TrainRequest {
            upload_ids: None,
            photo_urls: Some(urls),
            ..
        }) => Photos::Urls(checked_urls(services, &urls, Wanted::Training)?),
        TrainInput::Json(_) => {
            return Err(Error::invalid(
                "upload_ids",
                "give either upload_ids or photo_urls",
            ))
        }
    };
    check_balance(user, rules::training_cost(&services.config.product))?;
    // Before the rate limit: a request refused for its photos does not count.
    let (photos, checked) = check_photos(services, storage, photos, 0).await?;
    crate::limits::enforce(&state, user.id, &state.limits.training).await?;
    let request = Submission {
        draft: Draft::New { name: &name },
        keep_photos,
        photos: &photos,
        checked: checked.as_deref(),
    };
    submit_or_clean_up(&state, storage, user.id, request).await
}

/// Retrains a ready model with more photos: a new model of the same name and trigger word (prompts
/// and styles made for the old one keep working), trained on the old one's photos that are still
/// kept plus those given here, 10-20 in all. Paid at the retraining price: 202 with the new model
/// (`retrain_of` the old one), which trains like any other. The old model keeps working until the
/// new one is ready; then it is retired (`canceled`, its version deleted at Replicate). If the
/// training fails, its tokens come back and the old model stays. A retraining already under way is
/// a 409.
#[utoipa::path(post, path = "/api/models/{id}/retrain", tag = "models", security(("tma" = [])),
    params(("id" = i64, Path, description = "The ready model to retrain"), IdempotencyKey),
    request_body = RetrainRequest,
    responses((status = 202, description = "The new model is paid for and queued, with each added photo's verdict", body = QueuedModel),
              AuthErrors, JsonBody, TrainInvalid, Insufficient, NotFound, Conflict, RateLimited, Upstream))]
async fn retrain(
    AxumState(state): AxumState<Arc<State>>,
    caller: AuthUser,
    error::Path(model_id): error::Path<i64>,
    error::Json(request): error::Json<RetrainRequest>,
) -> ApiResult<(StatusCode, Json<QueuedModel>)> {
    let services = &state.services;
    let user = &caller.user;
    let storage = services.storage()?;
    let (old, carried, open) = {
        let conn = state.conn().await?;
        tokio::try_join!(
            models::get_owned(&**conn, model_id, user.id),
            models::carried_photo_count(&**conn, model_id),
            models::open_retrain(&**conn, model_id),
        )?
    };
    let old = old.ok_or(Error::not_found("model"))?;
    if old.status != ModelStatus::Ready {
        return Err(ServiceError::Conflict("only a ready model can be retrained".into()).into());
    }
    if open.is_some_and(|open| open.status != ModelStatus::Draft) {
        return Err(ServiceError::Conflict("this model is being retrained already".into()).into());
    }
    let wanted = Wanted::Adding { carried };
    let photos = match (&request.upload_ids, &request.photo_urls) {
        (Some(ids), None) => {
            Photos::Uploaded(uploaded_photos(&state, storage, user.id, ids, wanted).await?)
        }
        (None, Some(urls)) => Photos::Urls(checked_urls(services, urls, wanted)?),
        _ => {
            return Err(Error::invalid(
                "upload_ids",
                "give either upload_ids or photo_urls",
            ))
        }
    };
    check_balance(
        user,
        rules::draft_cost(&services.config.product, Some(old.id)),
    )?;
    // The carried photos passed the check when the old model was trained (or were not checked).
    let (photos, checked) = check_photos(services, storage, photos, carried).await?;
    crate::limits::enforce(&state, user.id, &state.limits.training).await?;
    let keep_photos = request.keep_photos.unwrap_or(old.keep_photos);
    let draft = Draft::Retrain { model_id: old.id };
    let request = Submission {
        draft,
        keep_photos,
        photos: &photos,
        checked: checked.as_deref(),
    };
    submit_or_clean_up(&state, storage, user.id, request).await
}

/// Records the draft with its photos and submits it: 202 with the queued model. When that fails,
/// nothing was charged, and nothing of the request is kept (a draft it did not start stays).
async fn submit_or_clean_up(
    state: &State,
    storage: &Storage,
    user_id: i64,
    request: Submission<'_>,
) -> ApiResult<(StatusCode, Json<QueuedModel>)> {
    let services = &state.services;
    let photos = request.photos;
    let checked = request.checked;
    match record_and_submit(services, storage, user_id, request).await {
        Ok(model) => {
            tracing::info!(
                model_id = model.id,
                photos = photos.len(),
                "training queued"
            );
            let images = Images::for_response(state).await?;
            let photo_checks =
                checked
                    .zip(services.photo_check.as_deref())
                    .map(|(checked, checker)| {
                        let verdicts = usecases::training::judge_all(checked);
                        verdict_views(checker.thresholds(), checked, &verdicts)
                    });
            Ok((
                StatusCode::ACCEPTED,
                Json(QueuedModel {
                    model: Model::signed(model, &images),
                    photo_checks,
                }),
            ))
        }
        Err((draft, e)) => {
            // Nothing was charged: nothing of the request is kept. The draft goes first, and its
            // photos with it, or when it was canceled meanwhile (erased: copies written after the
            // erasure's delete would stay); a draft someone else submitted meanwhile (a second
            // request for the same retraining) keeps the photos it was paid with.
            if let Some(model_id) = draft {
                let removed = match services.db().conn().await {
                    Ok(conn) => shared::repo::erasure::delete_draft(&**conn, model_id)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match removed {
                    Ok(true) => {
                        let prefix = shared::storage::model_photos_prefix(user_id, model_id);
                        if let Err(cleanup) = storage.delete_prefix(&prefix).await {
                            tracing::warn!(error = %cleanup, model_id, "could not delete the photos of a failed training request");
                        }
                    }
                    Ok(false) => {}
                    Err(cleanup) => {
                        tracing::warn!(error = %cleanup, model_id, "could not remove the draft of a failed training request");
                    }
                }
            }
            Err(e)
        }
    }
}

/// The URLs of a `photo_urls` request, checked (each once).
fn checked_urls(services: &Services, urls: &[String], wanted: Wanted) -> ApiResult<Vec<NewPhoto>> {
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
                source_url: Some(url),
                ..NewPhoto::default()
            });
        }
    }
    wanted.check(photos.len())?;
    Ok(photos)
}

/// Refuses before anything is uploaded when the balance cannot cover the training (the debit itself
/// checks again, atomically).
fn check_balance(user: &shared::repo::users::User, required: i64) -> ApiResult<()> {
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
