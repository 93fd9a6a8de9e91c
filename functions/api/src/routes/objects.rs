//! Our objects on one machine (`STORAGE_DIR`): `GET` and `PUT /objects/<key>` through the URLs the
//! API signs, checked as S3 checks its presigned URLs (method, key, expiry, and for an upload its
//! content type and exact size). Mounted only when storage is local; on AWS the URLs are S3's.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use shared::domain::rules::MAX_PHOTO_BYTES;
use shared::storage::{LocalAccess, ObjectKey};

use crate::error::{ApiResult, Error};
use crate::State;

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/objects/{*key}", get(read).head(read).put(write))
        .with_state(state)
}

fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn key_of(key: &str) -> ApiResult<ObjectKey> {
    ObjectKey::parse(key).ok_or_else(|| Error::not_found("object"))
}

async fn read(
    AxumState(state): AxumState<Arc<State>>,
    method: Method,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let storage = state.services.storage()?;
    let key = key_of(&key)?;
    storage.check_local(method.as_str(), &key, &query_pairs(query))?;
    let bytes = storage.get(&key).await?;
    let headers = [
        (header::CONTENT_TYPE, key.kind().mime_type().to_owned()),
        (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
    ];
    if method == Method::HEAD {
        return Ok((headers, [(header::CONTENT_LENGTH, bytes.len().to_string())]).into_response());
    }
    Ok((headers, Body::from(bytes)).into_response())
}

async fn write(
    AxumState(state): AxumState<Arc<State>>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let storage = state.services.storage()?;
    let key = key_of(&key)?;
    let LocalAccess::Put { content_type, size } =
        storage.check_local("PUT", &key, &query_pairs(query))?
    else {
        return Err(Error::forbidden("not an upload URL"));
    };
    let sent_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !sent_type.eq_ignore_ascii_case(&content_type) {
        return Err(Error::forbidden(format!(
            "this URL takes content-type {content_type}, not {sent_type:?}"
        )));
    }
    let limit = (size as usize).min(MAX_PHOTO_BYTES as usize);
    let bytes: Bytes = axum::body::to_bytes(body, limit + 1)
        .await
        .map_err(|_| crate::error::too_large())?;
    if bytes.len() as u64 != size {
        return Err(Error::forbidden(format!(
            "this URL takes exactly {size} bytes, not {}",
            bytes.len()
        )));
    }
    storage.put(&key, bytes, &content_type).await?;
    Ok(StatusCode::OK)
}
