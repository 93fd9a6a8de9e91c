//! Styles: the admin-managed extra LoRAs and prompt templates users pick for a generation.

use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use super::{DbError, GenericClient, Type};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Style {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// `{prompt}` in it stands for the user's prompt.
    pub prompt_template: String,
    pub lora_url: Option<String>,
    pub lora_scale: f64,
    pub is_active: bool,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewStyle {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_template")]
    pub prompt_template: String,
    pub lora_url: Option<String>,
    #[serde(default = "default_scale")]
    pub lora_scale: f64,
}

fn default_template() -> String {
    "{prompt}".to_owned()
}

fn default_scale() -> f64 {
    1.0
}

const COLUMNS: &str = "id, name, description, prompt_template, lora_url, lora_scale, is_active";

impl Style {
    fn from_row(row: &Row) -> Self {
        Self {
            id: row.get("id"),
            name: row.get("name"),
            description: row.get("description"),
            prompt_template: row.get("prompt_template"),
            lora_url: row.get("lora_url"),
            lora_scale: row.get("lora_scale"),
            is_active: row.get("is_active"),
        }
    }
}

/// Adds a style, or `None` if one with that name exists.
pub async fn create(db: &impl GenericClient, s: &NewStyle) -> Result<Option<Style>, DbError> {
    let row = db
        .query_typed_opt(
            &format!(
                "INSERT INTO styles (name, description, prompt_template, lora_url, lora_scale)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING RETURNING {COLUMNS}"
            ),
            &[
                (&s.name, Type::TEXT),
                (&s.description, Type::TEXT),
                (&s.prompt_template, Type::TEXT),
                (&s.lora_url, Type::TEXT),
                (&s.lora_scale, Type::FLOAT8),
            ],
        )
        .await?;
    Ok(row.as_ref().map(Style::from_row))
}

pub async fn get(db: &impl GenericClient, id: i64) -> Result<Option<Style>, DbError> {
    let row = db
        .query_typed_opt(
            &format!("SELECT {COLUMNS} FROM styles WHERE id = $1"),
            &[(&id, Type::INT8)],
        )
        .await?;
    Ok(row.as_ref().map(Style::from_row))
}

/// Styles, active ones only unless `include_inactive` (the admin view).
pub async fn list(db: &impl GenericClient, include_inactive: bool) -> Result<Vec<Style>, DbError> {
    let rows = db
        .query_typed(
            &format!("SELECT {COLUMNS} FROM styles WHERE is_active OR $1 ORDER BY name"),
            &[(&include_inactive, Type::BOOL)],
        )
        .await?;
    Ok(rows.iter().map(Style::from_row).collect())
}

pub async fn set_active(
    db: &impl GenericClient,
    id: i64,
    active: bool,
) -> Result<Option<Style>, DbError> {
    let row = db
        .query_typed_opt(
            &format!("UPDATE styles SET is_active = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"),
            &[(&id, Type::INT8), (&active, Type::BOOL)],
        )
        .await?;
    Ok(row.as_ref().map(Style::from_row))
}
