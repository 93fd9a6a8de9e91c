//! Everything the bot says, in Russian and English, in one place: one module per language, each
//! implementing [`Texts`], so a text missing in one language does not compile.

mod en;
mod ru;

/// The language of a user's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    /// From Telegram's `language_code`: Russian by default and for the languages of our Russian-speaking
    /// audience, English for every other language a user has set.
    pub fn from_code(code: Option<&str>) -> Self {
        match code.map(|c| c.split(['-', '_']).next().unwrap_or(c).to_ascii_lowercase()) {
            None => Lang::Ru,
            Some(c)
                if matches!(
                    c.as_str(),
                    "ru" | "uk" | "be" | "kk" | "uz" | "ky" | "tg" | "hy" | "az" | "ka"
                ) =>
            {
                Lang::Ru
            }
            Some(c) if c.is_empty() => Lang::Ru,
            Some(_) => Lang::En,
        }
    }
}

pub fn texts(lang: Lang) -> &'static dyn Texts {
    match lang {
        Lang::Ru => &ru::Ru,
        Lang::En => &en::En,
    }
}

/// Every text of the bot. Amounts are already formatted numbers; names are escaped by the caller
/// (texts are HTML).
pub trait Texts: Sync {
    fn welcome(&self, first_name: &str) -> String;
    fn help(&self) -> String;
    fn unknown_command(&self) -> String;
    fn blocked(&self) -> String;
    fn menu_train(&self) -> String;
    fn menu_models(&self) -> String;
    fn menu_balance(&self) -> String;
    fn menu_buy(&self) -> String;
    fn menu_referral(&self) -> String;
    fn menu_help(&self) -> String;

    fn button_generate(&self) -> String;
    fn model_ready(&self, name: &str) -> String;
    fn training_failed(&self, name: &str, refunded: i64) -> String;
    fn generation_caption(&self, prompt: &str) -> String;
    fn generation_failed(&self, refunded: i64) -> String;
    fn admin_training_failed(&self, user: &str, model_id: i64, error: &str) -> String;
    fn admin_generation_failed(&self, user: &str, generation_id: i64, error: &str) -> String;
    fn admin_payment(&self, user: &str, tokens: i64, amount: i64, currency: &str) -> String;
}

/// An amount in minor units, for people: `150 ⭐` for Stars, `990.00 RUB` for a currency with cents.
pub fn money(amount: i64, currency: &str) -> String {
    match currency {
        "XTR" => format!("{amount} ⭐"),
        // Currencies without minor units (Telegram's list: JPY, KRW, ...) are shown as they are.
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "PYG" => format!("{amount} {currency}"),
        _ => format!("{}.{:02} {currency}", amount / 100, (amount % 100).abs()),
    }
}

/// Escapes text for Telegram's HTML parse mode.
pub fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_defaults_to_russian() {
        assert_eq!(Lang::from_code(None), Lang::Ru);
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("uk")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("en")), Lang::En);
        assert_eq!(Lang::from_code(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_code(Some("de")), Lang::En);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(html("<b>&"), "&lt;b&gt;&amp;");
    }
}
