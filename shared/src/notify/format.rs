//! Putting values into texts: HTML escaping for Telegram, amounts for people, and the one way a
//! language's template gets its values.

use std::fmt::Display;

use crate::domain::lang::Lang;

/// Escapes text for Telegram's HTML parse mode.
pub fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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

/// A template with its `{name}` placeholders replaced by `values`, in one pass (a value is never
/// read as a template). Each language writes its own sentence around the same placeholders, so the
/// word order is the language's; a placeholder without a value, or a value without a placeholder,
/// is a mistake in a language's texts and fails in debug builds (every text is rendered in tests).
///
/// `{name:forms}` is the word for the count `name` in its plural form (`{tokens} {tokens:токен|токена|токенов}`),
/// by the one plural rule, [`Lang::plural`].
pub fn fill(template: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16 * values.len());
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let found = after.find('}').and_then(|close| {
            let (key, forms) = match after[..close].split_once(':') {
                Some((key, forms)) => (key, Some(forms)),
                None => (&after[..close], None),
            };
            let index = values.iter().position(|(name, _)| *name == key)?;
            Some((close, index, forms))
        });
        match found {
            Some((close, index, forms)) => {
                used[index] = true;
                let value = values[index].1.to_string();
                match forms {
                    None => out.push_str(&value),
                    Some(forms) => {
                        let count = value.parse::<i64>();
                        debug_assert!(count.is_ok(), "a plural of a non-number in {template:?}");
                        out.push_str(Lang::plural(count.unwrap_or(0), forms));
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                if cfg!(debug_assertions) {
                    panic!("no value for a placeholder in {template:?}");
                }
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    debug_assert!(
        used.iter().all(|u| *u),
        "a value without its placeholder in {template:?}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(html("<b>&"), "&lt;b&gt;&amp;");
    }

    #[test]
    fn money_has_the_currency_s_minor_units() {
        assert_eq!(money(150, "XTR"), "150 ⭐");
        assert_eq!(money(99005, "RUB"), "990.05 RUB");
        assert_eq!(money(500, "JPY"), "500 JPY");
    }

    #[test]
    fn a_count_s_word_takes_its_plural_form() {
        let template = "{n} {n:токен|токена|токенов}";
        let said: Vec<String> = [1, 2, 5, 11, 21, 22]
            .iter()
            .map(|n| fill(template, &[("n", n)]))
            .collect();
        assert_eq!(
            said,
            [
                "1 токен",
                "2 токена",
                "5 токенов",
                "11 токенов",
                "21 токен",
                "22 токена"
            ]
        );
        assert_eq!(fill("{n} {n:token|tokens}", &[("n", &1)]), "1 token");
    }

    #[test]
    fn a_template_gets_its_values_once() {
        assert_eq!(
            fill("{a} and {b}, {a}", &[("a", &1), ("b", &"{a}")]),
            "1 and {a}, 1"
        );
    }
}
