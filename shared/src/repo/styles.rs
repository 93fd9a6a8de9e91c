//! The style catalogue: admin-managed extra LoRAs and prompt templates users pick for a generation,
//! browsed by tag.

use super::{
    boolean, fetch_opt, find, find_all, float8, int8, text, text_array, DbError, GenericClient,
};

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewStyle {
    pub name: String,
    pub description: String,
    pub prompt_template: String,
    pub lora_url: Option<String>,
    pub lora_scale: f64,
    pub trigger_word: Option<String>,
    pub preview_url: Option<String>,
    pub gender: Option<String>,
    pub tags: Vec<String>,
}

/// A tag as stored: lower-case letters, digits, `_` and `-`, at most 24 characters (it travels in
/// button payloads).
pub fn normalize_tag(tag: &str) -> Option<String> {
    let tag = tag.trim().to_lowercase();
    let ok = !tag.is_empty()
        && tag.chars().count() <= 24
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    ok.then_some(tag)
}

const COLUMNS: &str =
    "id, name, description, prompt_template, lora_url, lora_scale, trigger_word, preview_url, gender, tags, is_active";

from_row!(Style, table "styles", columns COLUMNS, |row| {
    id, name, description, prompt_template, lora_url, lora_scale, trigger_word, preview_url,
    gender, tags, is_active,
});

/// Adds a style, or `None` if one with that name exists.
pub async fn create(db: &impl GenericClient, s: &NewStyle) -> Result<Option<Style>, DbError> {
    let tags: Vec<String> = s.tags.iter().filter_map(|t| normalize_tag(t)).collect();
    let sql = format!(
        "INSERT INTO styles (name, description, prompt_template, lora_url, lora_scale, trigger_word,
                                     preview_url, gender, tags)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}"
    );
    fetch_opt(
        db,
        &sql,
        &[
            text(&s.name),
            text(&s.description),
            text(&s.prompt_template),
            text(&s.lora_url),
            float8(&s.lora_scale),
            text(&s.trigger_word),
            text(&s.preview_url),
            text(&s.gender),
            text_array(&tags),
        ],
    )
    .await
}

pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<Style>, DbError> {
    find(db, "id = $1", &[int8(&id)]).await
}

/// Styles, active ones only unless `include_inactive` (the admin view), optionally with one tag.
pub async fn list(db: &impl GenericClient, include_inactive: bool) -> Result<Vec<Style>, DbError> {
    list_tagged(db, include_inactive, None).await
}

pub async fn list_tagged(
    db: &impl GenericClient,
    include_inactive: bool,
    tag: Option<&str>,
) -> Result<Vec<Style>, DbError> {
    find_all(
        db,
        "(is_active OR $1) AND ($2::text IS NULL OR tags @> ARRAY[$2])
                 ORDER BY name",
        &[boolean(&include_inactive), text(&tag)],
    )
    .await
}

/// The tags of active styles, with how many styles have each.
pub async fn tags(db: &impl GenericClient) -> Result<Vec<(String, i64)>, DbError> {
    let rows = db
        .query_typed(
            "SELECT tag, count(*) AS styles FROM styles, unnest(tags) AS tag WHERE is_active
             GROUP BY tag ORDER BY tag",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("tag"), r.get("styles")))
        .collect())
}

/// Fields of a style to change; `None` leaves a field as it is (`Some(None)` clears an optional one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StyleUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub prompt_template: Option<String>,
    pub lora_url: Option<Option<String>>,
    pub lora_scale: Option<f64>,
    pub trigger_word: Option<Option<String>>,
    pub preview_url: Option<Option<String>>,
    pub gender: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// Changes the given fields of a style. `None` if there is no such style; a name another style
/// has fails with the `styles_name_key` constraint.
pub async fn update(
    db: &impl GenericClient,
    id: i64,
    u: &StyleUpdate,
) -> Result<Option<Style>, DbError> {
    let tags: Option<Vec<String>> = u
        .tags
        .as_ref()
        .map(|tags| tags.iter().filter_map(|t| normalize_tag(t)).collect());
    let set = |field: &Option<Option<String>>| field.is_some();
    let value = |field: &Option<Option<String>>| field.clone().flatten();
    fetch_opt(
        db,
        &format!(
            "UPDATE styles SET
                    name = COALESCE($2, name),
                    description = COALESCE($3, description),
                    prompt_template = COALESCE($4, prompt_template),
                    lora_url = CASE WHEN $5 THEN $6 ELSE lora_url END,
                    lora_scale = COALESCE($7, lora_scale),
                    trigger_word = CASE WHEN $8 THEN $9 ELSE trigger_word END,
                    preview_url = CASE WHEN $10 THEN $11 ELSE preview_url END,
                    gender = CASE WHEN $12 THEN $13 ELSE gender END,
                    tags = COALESCE($14, tags),
                    is_active = COALESCE($15, is_active),
                    updated_at = now()
                 WHERE id = $1 RETURNING {COLUMNS}"
        ),
        &[
            int8(&id),
            text(&u.name),
            text(&u.description),
            text(&u.prompt_template),
            boolean(&set(&u.lora_url)),
            text(&value(&u.lora_url)),
            float8(&u.lora_scale),
            boolean(&set(&u.trigger_word)),
            text(&value(&u.trigger_word)),
            boolean(&set(&u.preview_url)),
            text(&value(&u.preview_url)),
            boolean(&set(&u.gender)),
            text(&value(&u.gender)),
            text_array(&tags),
            boolean(&u.is_active),
        ],
    )
    .await
}
