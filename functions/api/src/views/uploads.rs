//! Upload slots (`POST /api/uploads`): where the Mini App puts each photo before training.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::storage::PresignedUpload;
use utoipa::ToSchema;

/// The slots, in the order the photos were announced.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadSlots {
    pub uploads: Vec<UploadSlot>,
}

/// Where one photo goes: `PUT` its bytes to `url` with exactly `headers`, before `expires_at`; then
/// pass `id` in `upload_ids` to `POST /api/train`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UploadSlot {
    pub id: String,
    /// Always `PUT`.
    pub method: String,
    pub url: String,
    /// `content-type` and `content-length` as announced: the signature covers them, so another
    /// type or size is refused.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

impl UploadSlot {
    pub fn new(id: String, presigned: PresignedUpload) -> Self {
        Self {
            id,
            method: "PUT".to_owned(),
            url: presigned.url.into(),
            headers: presigned.headers.into_iter().collect(),
            expires_at: presigned.expires_at,
        }
    }
}
