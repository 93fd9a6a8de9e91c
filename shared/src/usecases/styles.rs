//! The style catalogue as admins edit it through the REST API: what a style's fields must be (so a
//! request is refused with the field's name rather than by a database constraint), and changing a
//! style with the change written to the audit log.

use serde_json::json;

use crate::repo::admins::{self, Action, NewAction};
use crate::repo::styles::{self, normalize_tag, NewStyle, Style, StyleUpdate};
use crate::services::Services;

use super::ServiceError;

pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_TEXT_CHARS: usize = 1000;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_TAGS: usize = 20;
/// Replicate's range for `extra_lora_scale`.
pub const LORA_SCALE: std::ops::RangeInclusive<f64> = -1.0..=3.0;

/// A style field that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        message: message.into(),
    }
}

fn name(value: &str) -> Result<String, InvalidField> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || value.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            format!("must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn text(field: &'static str, value: &str, required: bool) -> Result<String, InvalidField> {
    let chars = value.trim().chars().count();
    if chars > MAX_TEXT_CHARS || (required && chars == 0) {
        let least = if required { 1 } else { 0 };
        return Err(invalid(
            field,
            format!("must be {least} to {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(value.trim().to_owned())
}

fn optional(
    field: &'static str,
    value: Option<&str>,
    check: impl Fn(&str) -> bool,
    rule: &str,
) -> Result<Option<String>, InvalidField> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if check(v) => Ok(Some(v.to_owned())),
        Some(_) => Err(invalid(field, rule)),
    }
}

fn url_like(v: &str) -> bool {
    v.chars().count() <= MAX_URL_CHARS && !v.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn http_url(v: &str) -> bool {
    url_like(v)
        && url::Url::parse(v).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

fn lora_url(value: Option<&str>) -> Result<Option<String>, InvalidField> {
    optional(
        "lora_url",
        value,
        url_like,
        "must be a URL or a Replicate/Hugging Face reference, without spaces, at most 2048 characters",
    )
}

fn preview_url(value: Option<&str>) -> Result<Option<String>, InvalidField> {
    optional("preview_url", value, http_url, "must be an http(s) URL")
}

fn trigger_word(value: Option<&str>) -> Result<Option<String>, InvalidField> {
    optional(
        "trigger_word",
        value,
        |v| {
            (1..=32).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        },
        "must be 1 to 32 letters, digits or _",
    )
}

fn gender(value: Option<&str>) -> Result<Option<String>, InvalidField> {
    optional(
        "gender",
        value,
        |v| v == "male" || v == "female",
        "must be male or female",
    )
}

fn lora_scale(value: f64) -> Result<f64, InvalidField> {
    if value.is_finite() && LORA_SCALE.contains(&value) {
        Ok(value)
    } else {
        Err(invalid("lora_scale", "must be between -1 and 3"))
    }
}

fn tags(values: &[String]) -> Result<Vec<String>, InvalidField> {
    if values.len() > MAX_TAGS {
        return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::new();
    for tag in values {
        let tag = normalize_tag(tag)
            .ok_or_else(|| invalid("tags", "each tag is 1 to 24 letters, digits, _ or -"))?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// A new style, checked and normalised.
pub fn validate_new(style: &NewStyle) -> Result<NewStyle, InvalidField> {
    Ok(NewStyle {
        name: name(&style.name)?,
        description: text("description", &style.description, false)?,
        prompt_template: text("prompt_template", &style.prompt_template, true)?,
        lora_url: lora_url(style.lora_url.as_deref())?,
        lora_scale: lora_scale(style.lora_scale)?,
        trigger_word: trigger_word(style.trigger_word.as_deref())?,
        preview_url: preview_url(style.preview_url.as_deref())?,
        gender: gender(style.gender.as_deref())?,
        tags: tags(&style.tags)?,
    })
}

/// A change to a style, checked and normalised (an empty optional field clears it).
pub fn validate_update(update: &StyleUpdate) -> Result<StyleUpdate, InvalidField> {
    Ok(StyleUpdate {
        name: update.name.as_deref().map(name).transpose()?,
        description: update
            .description
            .as_deref()
            .map(|v| text("description", v, false))
            .transpose()?,
        prompt_template: update
            .prompt_template
            .as_deref()
            .map(|v| text("prompt_template", v, true))
            .transpose()?,
        lora_url: update
            .lora_url
            .as_ref()
            .map(|v| lora_url(v.as_deref()))
            .transpose()?,
        lora_scale: update.lora_scale.map(lora_scale).transpose()?,
        trigger_word: update
            .trigger_word
            .as_ref()
            .map(|v| trigger_word(v.as_deref()))
            .transpose()?,
        preview_url: update
            .preview_url
            .as_ref()
            .map(|v| preview_url(v.as_deref()))
            .transpose()?,
        gender: update
            .gender
            .as_ref()
            .map(|v| gender(v.as_deref()))
            .transpose()?,
        tags: update.tags.as_deref().map(tags).transpose()?,
        is_active: update.is_active,
    })
}

/// Changes a style (already validated) and writes the change to the audit log. A name another
/// style has is a conflict.
pub async fn update(
    services: &Services,
    admin_id: i64,
    style_id: i64,
    change: &StyleUpdate,
) -> Result<Style, ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let style = match styles::update(&*tx, style_id, change).await {
        Ok(Some(style)) => style,
        Ok(None) => return Err(ServiceError::NotFound("style")),
        Err(e) if e.constraint() == Some("styles_name_key") => {
            return Err(ServiceError::Conflict("another style has this name".into()))
        }
        Err(e) => return Err(e.into()),
    };
    admins::record(
        &*tx,
        &NewAction {
            admin_id,
            action: Action::StyleChange,
            target_user_id: None,
            subject: Some(&format!("style:{style_id}")),
            details: json!({
                "name": change.name, "is_active": change.is_active,
                "fields": changed_fields(change),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(style)
}

fn changed_fields(u: &StyleUpdate) -> Vec<&'static str> {
    [
        ("name", u.name.is_some()),
        ("description", u.description.is_some()),
        ("prompt_template", u.prompt_template.is_some()),
        ("lora_url", u.lora_url.is_some()),
        ("lora_scale", u.lora_scale.is_some()),
        ("trigger_word", u.trigger_word.is_some()),
        ("preview_url", u.preview_url.is_some()),
        ("gender", u.gender.is_some()),
        ("tags", u.tags.is_some()),
        ("is_active", u.is_active.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_style_is_checked_field_by_field() {
        let ok = NewStyle {
            name: "  Noir ".into(),
            prompt_template: "{prompt}, film noir".into(),
            lora_scale: 1.0,
            tags: vec!["Film".into(), "film".into()],
            trigger_word: Some("".into()),
            ..Default::default()
        };
        let checked = validate_new(&ok).unwrap();
        assert_eq!(checked.name, "Noir");
        assert_eq!(checked.tags, vec!["film"]);
        assert_eq!(checked.trigger_word, None);

        let field = |s: NewStyle| validate_new(&s).unwrap_err().field;
        assert_eq!(
            field(NewStyle {
                name: "x".repeat(65),
                ..ok.clone()
            }),
            "name"
        );
        assert_eq!(
            field(NewStyle {
                name: " ".into(),
                ..ok.clone()
            }),
            "name"
        );
        assert_eq!(
            field(NewStyle {
                prompt_template: "".into(),
                ..ok.clone()
            }),
            "prompt_template"
        );
        assert_eq!(
            field(NewStyle {
                lora_scale: f64::NAN,
                ..ok.clone()
            }),
            "lora_scale"
        );
        assert_eq!(
            field(NewStyle {
                lora_scale: 7.0,
                ..ok.clone()
            }),
            "lora_scale"
        );
        assert_eq!(
            field(NewStyle {
                gender: Some("other".into()),
                ..ok.clone()
            }),
            "gender"
        );
        assert_eq!(
            field(NewStyle {
                trigger_word: Some("a b".into()),
                ..ok.clone()
            }),
            "trigger_word"
        );
        assert_eq!(
            field(NewStyle {
                preview_url: Some("ftp://x".into()),
                ..ok.clone()
            }),
            "preview_url"
        );
        assert_eq!(
            field(NewStyle {
                tags: vec!["no spaces".into()],
                ..ok.clone()
            }),
            "tags"
        );
    }

    #[test]
    fn an_update_checks_only_what_it_changes() {
        let u = validate_update(&StyleUpdate {
            is_active: Some(false),
            gender: Some(None),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(u.is_active, Some(false));
        assert_eq!(u.gender, Some(None));
        assert_eq!(u.name, None);
        assert_eq!(
            validate_update(&StyleUpdate {
                name: Some("".into()),
                ..Default::default()
            })
            .unwrap_err()
            .field,
            "name"
        );
    }
}
