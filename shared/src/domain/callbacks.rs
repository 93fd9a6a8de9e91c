//! Inline button payloads (`callback_data`, at most 64 bytes): one enum, encoded and parsed here,
//! used by the bot and by notifications sent from the other functions.

use super::lang::Lang;
use super::rules::AspectRatio;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// Start generating with a ready model.
    Generate { model_id: i64 },
    /// The style for the generation being set up (`None`: no style).
    Style { style_id: Option<i64> },
    /// Browse styles: one tag (or all), one page.
    StylePage { tag: Option<String>, page: u32 },
    /// Rate a delivered generation, 1-5.
    Rate { generation_id: i64, rating: i16 },
    /// "More like this": a delivered generation again, paid, in `aspect_ratio` (`None`: its own).
    Again {
        generation_id: i64,
        aspect_ratio: Option<AspectRatio>,
    },
    /// The free redo a rating of 1 or 2 earned.
    FreeRedo { generation_id: i64 },
    /// A preset prompt, by its index.
    Preset { index: usize },
    /// How many images to generate, for the prompt tagged `prompt` ([`prompt_tag`]; `None` on
    /// buttons made before the tag, taken for the prompt being set up).
    Count { images: i32, prompt: Option<u32> },
    /// Pay for and start the training of the draft.
    StartTraining { model_id: i64 },
    /// `/train` found a draft left behind: go on with it (`resume`), or drop it and start anew.
    Draft { model_id: i64, resume: bool },
    /// Show the token packs.
    Packs,
    /// Buy a token pack.
    Buy { pack_id: String },
    /// Admin: block or unblock a user.
    AdminBlock { user_id: i64, blocked: bool },
    /// Admin: grant (positive) or take (negative) tokens.
    AdminTokens { user_id: i64, delta: i64 },
    /// Admin: switch a style on or off.
    AdminStyle { style_id: i64, active: bool },
    /// The owner agrees (or no longer agrees) to have their model offered to everyone.
    Share { model_id: i64, consent: bool },
    /// Retrain a ready model with more photos (a new version replaces it once ready).
    Retrain { model_id: i64 },
    /// `/delete_me`: delete the account's data (`confirm`), or leave it (cancel).
    EraseMe { confirm: bool },
    /// `/language`: speak this language from now on.
    Language { lang: Lang },
}

impl Callback {
    pub fn encode(&self) -> String {
        match self {
            Callback::Generate { model_id } => format!("g:{model_id}"),
            Callback::Style { style_id } => format!("s:{}", style_id.unwrap_or(0)),
            Callback::StylePage { tag, page } => {
                format!("sp:{page}:{}", tag.as_deref().unwrap_or(""))
            }
            Callback::Rate {
                generation_id,
                rating,
            } => format!("r:{generation_id}:{rating}"),
            Callback::Again {
                generation_id,
                aspect_ratio,
            } => format!("a:{generation_id}:{}", ratio_code(*aspect_ratio)),
            Callback::FreeRedo { generation_id } => format!("fr:{generation_id}"),
            Callback::Preset { index } => format!("p:{index}"),
            Callback::Count {
                images,
                prompt: Some(tag),
            } => format!("n:{images}:{tag:08x}"),
            Callback::Count {
                images,
                prompt: None,
            } => format!("n:{images}"),
            Callback::StartTraining { model_id } => format!("t:{model_id}"),
            Callback::Draft { model_id, resume } => format!("dr:{model_id}:{}", u8::from(*resume)),
            Callback::Packs => "packs".to_owned(),
            Callback::Buy { pack_id } => format!("b:{pack_id}"),
            Callback::AdminBlock { user_id, blocked } => {
                format!("ab:{user_id}:{}", u8::from(*blocked))
            }
            Callback::AdminTokens { user_id, delta } => format!("at:{user_id}:{delta}"),
            Callback::AdminStyle { style_id, active } => {
                format!("as:{style_id}:{}", u8::from(*active))
            }
            Callback::Share { model_id, consent } => {
                format!("sh:{model_id}:{}", u8::from(*consent))
            }
            Callback::Retrain { model_id } => format!("rt:{model_id}"),
            Callback::EraseMe { confirm } => format!("em:{}", u8::from(*confirm)),
            Callback::Language { lang } => format!("lang:{}", lang.code()),
        }
    }

    pub fn parse(data: &str) -> Option<Self> {
        if data == "packs" {
            return Some(Callback::Packs);
        }
        let mut parts = data.split(':');
        let kind = parts.next()?;
        let a = parts.next();
        let b = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let int = |s: Option<&str>| s.and_then(|v| v.parse::<i64>().ok());
        let flag = |s: Option<&str>| match s {
            Some("1") => Some(true),
            Some("0") => Some(false),
            _ => None,
        };
        Some(match (kind, b) {
            ("g", None) => Callback::Generate { model_id: int(a)? },
            ("s", None) => Callback::Style {
                style_id: Some(int(a)?).filter(|id| *id > 0),
            },
            ("p", None) => Callback::Preset {
                index: a?.parse().ok()?,
            },
            ("n", tag) => Callback::Count {
                images: a?.parse().ok()?,
                prompt: match tag {
                    Some(tag) if tag.len() == 8 => Some(u32::from_str_radix(tag, 16).ok()?),
                    Some(_) => return None,
                    None => None,
                },
            },
            ("t", None) => Callback::StartTraining { model_id: int(a)? },
            ("rt", None) => Callback::Retrain { model_id: int(a)? },
            ("fr", None) => Callback::FreeRedo {
                generation_id: int(a)?,
            },
            ("a", Some(code)) => Callback::Again {
                generation_id: int(a)?,
                aspect_ratio: parse_ratio(code)?,
            },
            ("em", None) => Callback::EraseMe { confirm: flag(a)? },
            ("lang", None) => Callback::Language {
                lang: Lang::parse(a?)?,
            },
            ("b", None) => Callback::Buy {
                pack_id: a.filter(|p| !p.is_empty())?.to_owned(),
            },
            ("ab", Some(_)) => Callback::AdminBlock {
                user_id: int(a)?,
                blocked: flag(b)?,
            },
            ("at", Some(_)) => Callback::AdminTokens {
                user_id: int(a)?,
                delta: int(b)?,
            },
            ("sp", Some(tag)) => Callback::StylePage {
                page: a?.parse().ok()?,
                tag: Some(tag.to_owned()).filter(|t| !t.is_empty()),
            },
            ("r", Some(_)) => Callback::Rate {
                generation_id: int(a)?,
                rating: b?.parse().ok().filter(|r| (1..=5).contains(r))?,
            },
            ("as", Some(_)) => Callback::AdminStyle {
                style_id: int(a)?,
                active: flag(b)?,
            },
            ("dr", Some(_)) => Callback::Draft {
                model_id: int(a)?,
                resume: flag(b)?,
            },
            ("sh", Some(_)) => Callback::Share {
                model_id: int(a)?,
                consent: flag(b)?,
            },
            _ => return None,
        })
    }
}

/// An aspect ratio in a callback (`:` separates the parts): `0` for none.
fn ratio_code(ratio: Option<AspectRatio>) -> &'static str {
    match ratio {
        None => "0",
        Some(AspectRatio::Square) => "1x1",
        Some(AspectRatio::Portrait) => "3x4",
        Some(AspectRatio::Story) => "9x16",
    }
}

/// A short tag of a prompt (FNV-1a), for a count button to name the prompt it was offered for: a
/// keyboard left under an older prompt does not pay for a newer one.
pub fn prompt_tag(prompt: &str) -> u32 {
    prompt.bytes().fold(0x811c_9dc5, |hash: u32, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

fn parse_ratio(code: &str) -> Option<Option<AspectRatio>> {
    [None]
        .into_iter()
        .chain(AspectRatio::ALL.map(Some))
        .find(|r| ratio_code(*r) == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_callback_round_trips_within_64_bytes() {
        let all = [
            Callback::Generate {
                model_id: 9_007_199_254_740_991,
            },
            Callback::Draft {
                model_id: 9_007_199_254_740_991,
                resume: true,
            },
            Callback::Retrain {
                model_id: 9_007_199_254_740_991,
            },
            Callback::Share {
                model_id: 9_007_199_254_740_991,
                consent: true,
            },
            Callback::Style { style_id: Some(3) },
            Callback::Style { style_id: None },
            Callback::EraseMe { confirm: true },
            Callback::EraseMe { confirm: false },
            Callback::Preset { index: 2 },
            Callback::StylePage {
                tag: Some("portrait_pro-24chars-xxx".into()),
                page: 12,
            },
            Callback::StylePage { tag: None, page: 0 },
            Callback::Rate {
                generation_id: 9_007_199_254_740_991,
                rating: 5,
            },
            Callback::Count {
                images: 4,
                prompt: Some(prompt_tag("on a beach")),
            },
            Callback::Count {
                images: 4,
                prompt: None,
            },
            Callback::Again {
                generation_id: 9_007_199_254_740_991,
                aspect_ratio: Some(AspectRatio::Story),
            },
            Callback::Again {
                generation_id: 1,
                aspect_ratio: None,
            },
            Callback::FreeRedo {
                generation_id: 9_007_199_254_740_991,
            },
            Callback::StartTraining { model_id: 12 },
            Callback::Buy {
                pack_id: "medium".into(),
            },
            Callback::AdminBlock {
                user_id: 9_007_199_254_740_991,
                blocked: true,
            },
            Callback::AdminTokens {
                user_id: 5,
                delta: -100,
            },
            Callback::AdminStyle {
                style_id: 7,
                active: false,
            },
            Callback::Language { lang: Lang::Ru },
            Callback::Language { lang: Lang::En },
        ];
        for c in all {
            let data = c.encode();
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Callback::parse(&data), Some(c));
        }
    }

    #[test]
    fn garbage_does_not_parse() {
        for data in [
            "", "x", "g:", "g:abc", "ab:1:2", "n:1:2", "b:", "r:1:6", "r:1:0", "a:1", "a:1:16x9",
            "fr:", "fr:1:2",
        ] {
            assert_eq!(Callback::parse(data), None, "{data}");
        }
    }
}
