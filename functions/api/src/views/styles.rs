//! Styles: the catalogue as users see it (`GET /api/styles`), and whole, for admins.

use serde::Serialize;
use shared::repo::styles;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Style {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `{prompt}` in it stands for the user's prompt.
    pub prompt_template: String,
    /// Extra LoRA weights (a `.safetensors` URL, or a Replicate/HF reference).
    pub lora_url: Option<String>,
    /// The LoRA's default weight.
    pub lora_scale: f64,
    /// The extra LoRA's own trigger word, put into the prompt by us.
    pub trigger_word: Option<String>,
    pub preview_url: Option<String>,
    /// `male` or `female` when the style suits one.
    pub gender: Option<String>,
    pub tags: Vec<String>,
    pub is_active: bool,
}

from_row!(styles::Style => Style {
    id, name, description, prompt_template, lora_url, lora_scale, trigger_word, preview_url,
    gender, tags, is_active,
});

/// A style as users see it: what it is called and looks like, not how it is made (its prompt
/// template and LoRA are ours).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CatalogStyle {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub preview_url: Option<String>,
    /// `male` or `female` when the style suits one.
    pub gender: Option<String>,
    pub tags: Vec<String>,
}

from_row!(styles::Style => CatalogStyle { id, name, description, preview_url, gender, tags });
