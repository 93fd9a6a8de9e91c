//! Personal models (`GET /api/models`, `POST /api/train`, ...), and those offered to everyone.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::domain::status;
use shared::repo::models;
use shared::usecases::deletion;
use utoipa::ToSchema;

use super::images::Images;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Model {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub trigger_word: String,
    pub status: ModelStatus,
    pub cost_tokens: i64,
    pub error: Option<String>,
    pub photo_count: i64,
    /// `user` (a person's own) or `system` (provided by admins to everyone).
    pub model_type: String,
    /// An image made with it (a URL signed for an hour), when there is one.
    pub preview_url: Option<String>,
    /// Its training photos are kept after the training (for retraining); otherwise they are
    /// deleted when the training ends.
    pub keep_photos: bool,
    /// How long Replicate trained it.
    pub training_seconds: Option<f64>,
    /// When its owner agreed to have it offered to everyone (`None`: they have not, or withdrew).
    pub shared_consent_at: Option<DateTime<Utc>>,
    /// The model this one retrains with more photos (`POST /api/models/{id}/retrain`); once this
    /// one is ready, that one is retired.
    pub retrain_of: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub queued_at: Option<DateTime<Utc>>,
    pub training_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

from_row!(models::Model => Model {
    id, user_id, name, trigger_word, status, cost_tokens, error, photo_count, model_type,
    preview_url, keep_photos, training_seconds, shared_consent_at, retrain_of, created_at, updated_at, queued_at,
    training_started_at, finished_at,
});

/// A model's preview as a response shows it: our copy, signed for this response, else its URL.
fn preview_url(row: &models::Model, images: &Images) -> Option<String> {
    row.preview_key
        .as_deref()
        .and_then(|key| images.url(key))
        .or_else(|| row.preview_url.clone())
}

impl Model {
    /// The view of `row`, its preview's URL signed for this response.
    pub fn signed(row: models::Model, images: &Images) -> Self {
        let preview_url = preview_url(&row, images);
        Self {
            preview_url,
            ..Self::from(row)
        }
    }
}

/// A model just paid for and queued, with what the photo check said of each of its photos.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedModel {
    #[serde(flatten)]
    pub model: Model,
    /// Each photo's verdict; `null` when the check is off (`PHOTO_CHECK=false`). Photos not `ok`
    /// are kept with the model but not trained on.
    pub photo_checks: Option<Vec<super::photos::PhotoVerdict>>,
}

/// A personal model: photos collected (`draft`), paid and waiting for the worker (`queued`), on
/// Replicate (`training`), then `ready`, `failed` or `canceled`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    Draft,
    Queued,
    Training,
    Ready,
    Failed,
    Canceled,
}

from_variants!(status::ModelStatus => ModelStatus {
    Draft, Queued, Training, Ready, Failed, Canceled,
});

/// What deleting a model's data did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deletion {
    /// The model as it is now: `canceled`, without photos or trained weights.
    pub model: Model,
    pub photos_removed: i64,
    /// Uploaded photos deleted from Replicate's file storage.
    pub files_deleted: usize,
    /// The trained version was deleted at Replicate.
    pub version_deleted: bool,
    /// A training in progress was canceled (its cost is not refunded).
    pub training_canceled: bool,
    /// Tokens returned (a model still queued: its training never started).
    pub refunded: i64,
}

from_row!(deletion::Erased => Deletion {
    model, photos_removed, files_deleted, version_deleted, training_canceled, refunded,
});

/// A model offered to everyone, as everyone may see it: nothing of its owner, its weights or its
/// training.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SystemModel {
    pub id: i64,
    pub name: String,
    /// An image made with it, when there is one.
    pub preview_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

from_row!(models::Model => SystemModel { id, name, preview_url, created_at });

impl SystemModel {
    /// The view of `row`, its preview's URL signed for this response.
    pub fn signed(row: models::Model, images: &Images) -> Self {
        let preview_url = preview_url(&row, images);
        Self {
            preview_url,
            ..Self::from(row)
        }
    }
}
