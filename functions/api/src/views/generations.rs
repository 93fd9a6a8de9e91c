//! Photos generated with a model (`GET /api/generations`, `POST /api/generations`, ...).

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::domain::status;
use shared::repo::generations;
use utoipa::ToSchema;

use super::images::Images;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Generation {
    pub id: i64,
    pub user_id: i64,
    pub model_id: Option<i64>,
    pub style_id: Option<i64>,
    pub prompt: String,
    pub num_images: i32,
    pub status: GenerationStatus,
    /// The images: our copies once the generation succeeded, through URLs signed for an hour each
    /// time the generation is fetched (fetch it again for fresh ones).
    pub result_urls: Vec<String>,
    pub cost_tokens: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

from_row!(generations::Generation => Generation {
    id, user_id, model_id, style_id, prompt, num_images, status, result_urls, cost_tokens, error,
    created_at, finished_at,
});

impl Generation {
    /// The view of `row`, its images' URLs signed for this response.
    pub fn signed(row: generations::Generation, images: &Images) -> Self {
        let keys = row.image_keys.clone();
        let mut view = Self::from(row);
        view.result_urls = images.urls(&keys, std::mem::take(&mut view.result_urls));
        view
    }
}

/// A generation: written (`pending`), sent to Replicate (`starting`, `processing`), then final.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GenerationStatus {
    Pending,
    Starting,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

from_variants!(status::GenerationStatus => GenerationStatus {
    Pending, Starting, Processing, Succeeded, Failed, Canceled,
});
