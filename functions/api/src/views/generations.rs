//! Photos generated with a model (`GET /api/generations`, `POST /api/generations`, ...).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::Serialize;
use shared::domain::{rules, status};
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
    pub aspect_ratio: AspectRatio,
    /// The generation this one repeats (`POST /api/generations/{id}/again` or `.../redo`).
    pub again_of: Option<i64>,
    /// A free redo: its price was credited and debited together, and a failure of it refunds
    /// nothing (nothing was paid).
    pub free_redo: bool,
}

from_row!(generations::Generation => Generation {
    id, user_id, model_id, style_id, prompt, num_images, status, result_urls, cost_tokens, error,
    created_at, finished_at, aspect_ratio, again_of, free_redo,
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

/// The shape of the images: 1:1 (the default), 3:4 (a portrait), 9:16 (a phone's screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum AspectRatio {
    #[serde(rename = "1:1")]
    Square,
    #[serde(rename = "3:4")]
    Portrait,
    #[serde(rename = "9:16")]
    Story,
}

from_variants!(rules::AspectRatio => AspectRatio { Square, Portrait, Story });

impl From<AspectRatio> for rules::AspectRatio {
    fn from(ratio: AspectRatio) -> Self {
        match ratio {
            AspectRatio::Square => Self::Square,
            AspectRatio::Portrait => Self::Portrait,
            AspectRatio::Story => Self::Story,
        }
    }
}

/// A rating stored (`POST /api/generations/{id}/feedback`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rated {
    pub rating: i16,
    /// A rating of 1 or 2 of a delivered, paid generation earns a free redo
    /// (`POST /api/generations/{id}/redo`), once (`FREE_REDOS_PER_GENERATION`): whether it may be
    /// asked for now.
    pub free_redo: bool,
}
