//! The product's rules, used by the bot and the API alike: what a training and a generation need,
//! what they cost, how the prompt sent to Replicate is made.

use crate::config::ProductConfig;
use crate::domain::lang::Lang;

/// Photos a training needs.
pub const MIN_PHOTOS: i64 = 10;
pub const MAX_PHOTOS: i64 = 20;
/// The largest photo we accept: the Bot API downloads files up to 20 MB.
pub const MAX_PHOTO_BYTES: i64 = 20 * 1024 * 1024;
/// Image types a photo sent as a document (or uploaded) may have.
pub const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/heic"];
pub const MAX_MODEL_NAME_CHARS: usize = 64;
pub const MAX_PROMPT_CHARS: usize = 500;
pub const MIN_IMAGES: i32 = 1;
pub const MAX_IMAGES: i32 = 4;

/// A rule a request broke, said for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the model name must be 1 to {MAX_MODEL_NAME_CHARS} characters")]
    ModelName,
    #[error("the prompt must be 1 to {MAX_PROMPT_CHARS} characters")]
    Prompt,
    #[error("the prompt contains a word or phrase we do not generate")]
    PromptRefused,
    #[error("Replicate's safety checker refused the prompt; the tokens were returned")]
    PromptUnsafe,
    #[error("the number of images must be {MIN_IMAGES} to {MAX_IMAGES}")]
    ImageCount,
    #[error("a training needs {MIN_PHOTOS} to {MAX_PHOTOS} photos, not {0}")]
    PhotoCount(i64),
    #[error("the photo is larger than 20 MB")]
    PhotoTooLarge,
    #[error("the file is not an image (JPEG, PNG, WebP or HEIC)")]
    NotAnImage,
    #[error("the model is not ready for generation")]
    ModelNotReady,
    #[error("the aspect ratio must be one of 1:1, 3:4, 9:16")]
    AspectRatio,
    #[error("a free redo follows a rating of 1 or 2 of a delivered generation that was paid for")]
    FreeRedoNotOffered,
    #[error("the free redo of this generation was already used")]
    FreeRedoUsed,
}

pub fn validate_model_name(name: &str) -> Result<String, RuleError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_MODEL_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(RuleError::ModelName);
    }
    Ok(name.to_owned())
}

/// A prompt of the right length, none of whose words is on `block_list` (`PROMPT_BLOCK_LIST`).
pub fn validate_prompt(prompt: &str, block_list: &[String]) -> Result<String, RuleError> {
    let prompt = prompt.trim();
    let chars = prompt.chars().count();
    if chars == 0 || chars > MAX_PROMPT_CHARS {
        return Err(RuleError::Prompt);
    }
    if super::moderation::refuses(block_list, prompt) {
        return Err(RuleError::PromptRefused);
    }
    Ok(prompt.to_owned())
}

pub fn validate_image_count(images: i32) -> Result<i32, RuleError> {
    if (MIN_IMAGES..=MAX_IMAGES).contains(&images) {
        Ok(images)
    } else {
        Err(RuleError::ImageCount)
    }
}

/// Photos added to the `carried` ones a retraining starts with: at least one, and 10-20 in all.
pub fn validate_added_photos(carried: i64, added: i64) -> Result<(), RuleError> {
    if added < 1 {
        return Err(RuleError::PhotoCount(carried));
    }
    validate_photo_count(carried + added)
}

pub fn validate_photo_count(count: i64) -> Result<(), RuleError> {
    if (MIN_PHOTOS..=MAX_PHOTOS).contains(&count) {
        Ok(())
    } else {
        Err(RuleError::PhotoCount(count))
    }
}

/// Checks a photo's declared size and type (a Telegram photo has no type: it is always a JPEG).
pub fn validate_photo(size: Option<i64>, mime_type: Option<&str>) -> Result<(), RuleError> {
    if let Some(mime) = mime_type {
        if !IMAGE_TYPES.contains(&mime.to_ascii_lowercase().as_str()) {
            return Err(RuleError::NotAnImage);
        }
    }
    if size.is_some_and(|s| s > MAX_PHOTO_BYTES) {
        return Err(RuleError::PhotoTooLarge);
    }
    Ok(())
}

/// What a photo's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
    Heic,
}

impl ImageKind {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
            ImageKind::Heic => "image/heic",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
            ImageKind::Heic => "heic",
        }
    }

    pub fn from_extension(extension: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Webp, Self::Heic]
            .into_iter()
            .find(|k| k.extension() == extension)
    }

    /// The kind a declared content type names (parameters such as `; charset` aside).
    pub fn from_mime_type(content_type: &str) -> Option<Self> {
        let mime = content_type.split(';').next().unwrap_or_default().trim();
        [Self::Jpeg, Self::Png, Self::Webp, Self::Heic]
            .into_iter()
            .find(|k| k.mime_type().eq_ignore_ascii_case(mime))
    }
}

/// The image a photo's bytes begin like (JPEG, PNG, WebP, HEIC/HEIF), whatever its source claims;
/// `None` for anything else. Every downloaded or uploaded photo is checked here.
pub fn sniff_image(bytes: &[u8]) -> Option<ImageKind> {
    const HEIF_BRANDS: [&[u8]; 10] = [
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1",
    ];
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageKind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageKind::Png)
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(ImageKind::Webp)
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && HEIF_BRANDS.contains(&&bytes[8..12]) {
        Some(ImageKind::Heic)
    } else {
        None
    }
}

pub fn training_cost(product: &ProductConfig) -> i64 {
    product.training_cost
}

/// What training a draft costs: a retraining of a ready model (`retrain_of`) its own price.
pub fn draft_cost(product: &ProductConfig, retrain_of: Option<i64>) -> i64 {
    match retrain_of {
        Some(_) => product.retraining_cost,
        None => product.training_cost,
    }
}

pub fn generation_cost(product: &ProductConfig, images: i32) -> i64 {
    product.generation_cost * i64::from(images)
}

/// A fresh trigger word for a new model: rare letters, so it maps onto the person alone.
pub fn new_trigger_word() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let letters: String = (0..5)
        .map(|_| char::from(rng.gen_range(b'A'..=b'Z')))
        .collect();
    format!("DP{letters}")
}

/// The prompt Replicate gets: the style's template around the user's words, with the model's trigger
/// word (and the style LoRA's, if it has one) put in by us; any copy of the model's trigger word the
/// user typed is removed, so it appears once, where it works.
pub fn full_prompt(
    trigger_word: &str,
    user_prompt: &str,
    style_template: Option<&str>,
    style_trigger: Option<&str>,
) -> String {
    let cleaned: String = user_prompt
        .split_whitespace()
        .filter(|w| {
            !w.trim_matches(|c: char| !c.is_alphanumeric())
                .eq_ignore_ascii_case(trigger_word)
        })
        .collect::<Vec<_>>()
        .join(" ");
    let styled = match style_template {
        Some(template) if template.contains("{prompt}") => template.replace("{prompt}", &cleaned),
        Some(template) => format!("{cleaned}, {template}"),
        None => cleaned,
    };
    match style_trigger {
        Some(style_trigger) => {
            format!("photo of {trigger_word} person, {style_trigger} style, {styled}")
        }
        None => format!("photo of {trigger_word} person, {styled}"),
    }
}

/// The shapes a generation may have, as Replicate's `aspect_ratio` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AspectRatio {
    /// 1:1, what a generation has unless another is asked for.
    #[default]
    Square,
    /// 3:4, a portrait.
    Portrait,
    /// 9:16, a phone's screen (stories).
    Story,
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 3] = [Self::Square, Self::Portrait, Self::Story];

    /// As Replicate (and our API, and the `generations.aspect_ratio` column) spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Square => "1:1",
            Self::Portrait => "3:4",
            Self::Story => "9:16",
        }
    }

    pub fn parse(s: &str) -> Result<Self, RuleError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or(RuleError::AspectRatio)
    }
}

/// The highest rating that offers a free redo.
pub const LOW_RATING_MAX: i16 = 2;

/// What decides a generation's free redo: its owner's rating, whether it was delivered and paid
/// for (a free redo earns none of its own), and its free redos so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedoState {
    pub rating: Option<i16>,
    pub delivered: bool,
    pub was_free_redo: bool,
    /// Free redos of it ever written (their number names the next one's ledger slot).
    pub made: i64,
    /// Those that did not fail: a failed one gives its redo back, as nothing was made.
    pub live: i64,
}

/// A free redo may be made in ledger slot `slot` (`free-redo:<generation>:<slot>`, once): `allowed`
/// (`FREE_REDOS_PER_GENERATION`) per generation rated 1 or 2.
pub fn free_redo(allowed: i64, state: &RedoState) -> Result<i64, RuleError> {
    let low = state.rating.is_some_and(|r| r <= LOW_RATING_MAX);
    if allowed <= 0 || !low || !state.delivered || state.was_free_redo {
        return Err(RuleError::FreeRedoNotOffered);
    }
    if state.live >= allowed {
        return Err(RuleError::FreeRedoUsed);
    }
    Ok(state.made)
}

/// The ledger reference of a free redo's credit: unique, so a slot is credited once however often
/// the redo is pressed.
pub fn free_redo_reference(generation_id: i64, slot: i64) -> String {
    format!("free-redo:{generation_id}:{slot}")
}

/// A ready-made prompt: what the person reads (in their language) and what the model gets (in
/// English, the language FLUX follows best).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub prompt: &'static str,
    pub ru: &'static str,
    pub en: &'static str,
}

impl Preset {
    /// What the person reads.
    pub fn label(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Ru => self.ru,
            Lang::En => self.en,
        }
    }
}

/// Preset prompts offered when generating.
pub const PRESETS: [Preset; 4] = [
    Preset {
        prompt: "portrait in a business suit, studio lighting, sharp focus",
        ru: "💼 Деловой портрет в студии",
        en: "💼 Business portrait in a studio",
    },
    Preset {
        prompt: "walking on a beach at sunset, golden hour, candid",
        ru: "🌅 Прогулка по пляжу на закате",
        en: "🌅 A walk on the beach at sunset",
    },
    Preset {
        prompt: "in a cozy cafe, reading a book, soft window light",
        ru: "☕ С книгой в уютном кафе",
        en: "☕ Reading in a cozy cafe",
    },
    Preset {
        prompt: "as an astronaut on the Moon, cinematic, detailed",
        ru: "🚀 Астронавт на Луне",
        en: "🚀 An astronaut on the Moon",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_word_is_added_once_by_us() {
        let p = full_prompt("DPABCDE", "DPABCDE on a beach, dpabcde!", None, None);
        assert_eq!(p, "photo of DPABCDE person, on a beach,");
        let p = full_prompt(
            "DPX",
            "in a cafe",
            Some("film photo, {prompt}, grain"),
            None,
        );
        assert_eq!(p, "photo of DPX person, film photo, in a cafe, grain");
        let p = full_prompt("DPX", "in a cafe", None, Some("NOIR"));
        assert_eq!(p, "photo of DPX person, NOIR style, in a cafe");
    }

    #[test]
    fn limits_are_enforced() {
        assert!(validate_prompt(&"a".repeat(MAX_PROMPT_CHARS + 1), &[]).is_err());
        assert!(validate_prompt("   ", &[]).is_err());
        assert_eq!(validate_prompt(" hi ", &[]).unwrap(), "hi");
        assert!(validate_model_name("").is_err());
        assert!(validate_image_count(0).is_err());
        assert!(validate_image_count(5).is_err());
        assert!(validate_photo_count(9).is_err());
        assert!(validate_photo_count(21).is_err());
        assert!(validate_photo_count(10).is_ok());
        assert_eq!(
            validate_photo(Some(1), Some("application/pdf")),
            Err(RuleError::NotAnImage)
        );
        assert_eq!(
            validate_photo(Some(MAX_PHOTO_BYTES + 1), None),
            Err(RuleError::PhotoTooLarge)
        );
        assert!(new_trigger_word().starts_with("DP"));
    }

    #[test]
    fn aspect_ratios_are_the_three_we_offer() {
        for ratio in AspectRatio::ALL {
            assert_eq!(AspectRatio::parse(ratio.as_str()), Ok(ratio));
        }
        assert_eq!(AspectRatio::default().as_str(), "1:1");
        for bad in ["", "16:9", "4:3", "1:1 ", "square"] {
            if bad.trim() != "1:1" {
                assert_eq!(
                    AspectRatio::parse(bad),
                    Err(RuleError::AspectRatio),
                    "{bad}"
                );
            }
        }
    }

    #[test]
    fn a_free_redo_follows_a_low_rating_of_a_paid_delivered_generation_once() {
        let state = RedoState {
            rating: Some(2),
            delivered: true,
            was_free_redo: false,
            made: 0,
            live: 0,
        };
        assert_eq!(free_redo(1, &state), Ok(0));
        for rating in [None, Some(3), Some(5)] {
            let state = RedoState { rating, ..state };
            assert_eq!(free_redo(1, &state), Err(RuleError::FreeRedoNotOffered));
        }
        assert_eq!(free_redo(0, &state), Err(RuleError::FreeRedoNotOffered));
        let undelivered = RedoState {
            delivered: false,
            ..state
        };
        assert_eq!(
            free_redo(1, &undelivered),
            Err(RuleError::FreeRedoNotOffered)
        );
        let itself_free = RedoState {
            was_free_redo: true,
            ..state
        };
        assert_eq!(
            free_redo(1, &itself_free),
            Err(RuleError::FreeRedoNotOffered)
        );
        let used = RedoState {
            made: 1,
            live: 1,
            ..state
        };
        assert_eq!(free_redo(1, &used), Err(RuleError::FreeRedoUsed));
        assert_eq!(free_redo(2, &used), Ok(1));
        // One that failed gave its redo back: the next takes the next slot.
        let failed = RedoState {
            made: 1,
            live: 0,
            ..state
        };
        assert_eq!(free_redo(1, &failed), Ok(1));
    }

    #[test]
    fn images_are_known_by_their_bytes() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0];
        assert_eq!(sniff_image(&jpeg), Some(ImageKind::Jpeg));
        assert_eq!(sniff_image(b"\x89PNG\r\n\x1a\n...."), Some(ImageKind::Png));
        assert_eq!(sniff_image(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageKind::Webp));
        assert_eq!(
            sniff_image(b"\0\0\0\x18ftypheic\0\0"),
            Some(ImageKind::Heic)
        );
        assert_eq!(
            sniff_image(b"\0\0\0\x18ftypmif1\0\0"),
            Some(ImageKind::Heic)
        );
        for not_an_image in [
            &b"%PDF-1.7"[..],
            b"<!doctype html><html>",
            b"GIF89a",
            b"\0\0\0\x18ftypisom\0\0",
            b"RIFF\0\0\0\0WAVEfmt ",
            b"\xFF\xD8",
            b"",
        ] {
            assert_eq!(sniff_image(not_an_image), None);
        }
    }
}
