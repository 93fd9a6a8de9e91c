//! The language a person is spoken to in, and the one rule that picks it; and the one plural rule
//! every text with a count goes through.

/// The language of a user's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ru, Lang::En];

    /// The language of a person: the one they chose (`/language`, the Mini App), else the one their
    /// Telegram `language_code` suggests.
    pub fn of(chosen: Option<&str>, telegram_code: Option<&str>) -> Self {
        chosen
            .and_then(Lang::parse)
            .unwrap_or_else(|| Lang::from_code(telegram_code))
    }

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

    /// A language a person can choose, by its code (`ru`, `en`); anything else is none of ours.
    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Its code, as stored and as the API says it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The word form for `n` among `forms`, written `one|few|many` in Russian (1 токен, 2 токена,
    /// 5 токенов) and `one|other` in English (1 token, 2 tokens). The number of forms says which
    /// rule: texts are written per language, so each writes the forms its language has.
    pub fn plural(n: i64, forms: &str) -> &str {
        let forms: Vec<&str> = forms.split('|').collect();
        let n = n.unsigned_abs();
        let index = match forms.len() {
            // CLDR's rule for Russian (and the East Slavic languages): 1, 21, 101 → one;
            // 2–4, 22–24 → few; 0, 5–20, 25–30, 11–14 → many.
            3 => match (n % 10, n % 100) {
                (1, r) if r != 11 => 0,
                (2..=4, r) if !(12..=14).contains(&r) => 1,
                _ => 2,
            },
            2 => usize::from(n != 1),
            _ => 0,
        };
        forms[index.min(forms.len() - 1)]
    }
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
    fn a_chosen_language_wins_over_telegram_s() {
        assert_eq!(Lang::of(Some("en"), Some("ru")), Lang::En);
        assert_eq!(Lang::of(Some("ru"), Some("de")), Lang::Ru);
        assert_eq!(Lang::of(None, Some("de")), Lang::En);
        assert_eq!(Lang::of(Some("xx"), None), Lang::Ru);
    }

    #[test]
    fn russian_plurals_follow_the_one_rule() {
        let tokens = "токен|токена|токенов";
        let cases = [
            (0, "токенов"),
            (1, "токен"),
            (2, "токена"),
            (4, "токена"),
            (5, "токенов"),
            (11, "токенов"),
            (12, "токенов"),
            (14, "токенов"),
            (21, "токен"),
            (22, "токена"),
            (25, "токенов"),
            (101, "токен"),
            (111, "токенов"),
            (1000, "токенов"),
            (-1, "токен"),
        ];
        for (n, form) in cases {
            assert_eq!(Lang::plural(n, tokens), form, "{n}");
        }
    }

    #[test]
    fn english_plurals_have_one_and_other() {
        assert_eq!(Lang::plural(1, "token|tokens"), "token");
        assert_eq!(Lang::plural(0, "token|tokens"), "tokens");
        assert_eq!(Lang::plural(21, "token|tokens"), "tokens");
        assert_eq!(Lang::plural(7, "шт."), "шт.");
    }
}
