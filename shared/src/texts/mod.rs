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
    fn admin_replicate_refused_us(&self, error: &str) -> String;
    fn admin_generation_failed(&self, user: &str, generation_id: i64, error: &str) -> String;
    fn admin_payment(&self, user: &str, tokens: i64, amount: i64, currency: &str) -> String;
    /// A payment for a pack no longer sold; `tokens` 0 when its invoice did not say how many.
    fn admin_payment_unknown_pack(
        &self,
        user: &str,
        payment_id: i64,
        pack: &str,
        tokens: i64,
        amount: i64,
        currency: &str,
    ) -> String;
    fn admin_effect_failed(&self, effect_id: i64, what: &str, error: &str) -> String;
    fn admin_payment_disputed(
        &self,
        user: &str,
        payment_id: i64,
        amount: i64,
        currency: &str,
        reason: &str,
    ) -> String;
    fn payment_disputed(&self, payment_id: i64) -> String;
    fn promo_usage(&self) -> String;
    fn promo_tokens(&self, tokens: i64, balance: i64) -> String;
    fn promo_discount(&self, percent: i32) -> String;
    fn promo_refused(&self, refusal: crate::service::promo::Refusal) -> String;
    fn discount_note(&self, percent: i32) -> String;
    fn owners_only(&self) -> String;
    fn admin_admins(&self, owners: &[i64], admins: &[crate::repo::admins::AdminEntry]) -> String;
    fn admin_log(&self, entries: &[crate::repo::admins::ActionEntry]) -> String;
    fn admin_promos(&self, codes: &[crate::repo::promos::PromoCode]) -> String;
    fn admin_promo_usage(&self) -> String;
    fn admin_error(&self, message: &str) -> String;
    fn rate_prompt(&self) -> String;
    fn rate_thanks(&self) -> String;
    fn comment_thanks(&self) -> String;
    fn choose_tag(&self) -> String;
    fn button_all_styles(&self) -> String;
    fn styles_page(&self, tag: Option<&str>, page: u32, pages: u32) -> String;
    fn button_prev(&self) -> String;
    fn button_next(&self) -> String;
    fn system_model_label(&self) -> String;
    fn admin_system_usage(&self) -> String;
    fn admin_insights(
        &self,
        funnels: &[crate::repo::events::Funnel],
        ratings: &[crate::repo::feedback::StyleRating],
        low: &[crate::repo::feedback::LowRating],
    ) -> String;
    /// The bot's command menu: (command, description) for Telegram's setMyCommands.
    fn command_menu(&self) -> Vec<(&'static str, &'static str)>;

    fn balance(&self, left: i64, spent: i64) -> String;
    fn status_label(&self, status: crate::domain::status::ModelStatus) -> String;
    fn models_empty(&self) -> String;
    fn models_header(&self) -> String;
    fn model_line(&self, name: &str, status: &str, photos: i64) -> String;
    fn button_generate_with(&self, name: &str) -> String;
    /// Give (`shared` false) or withdraw (`shared` true) consent to offer the model to everyone.
    fn button_share(&self, name: &str, shared: bool) -> String;
    fn history_empty(&self) -> String;
    fn history_header(&self) -> String;
    fn history_line(&self, date: &str, prompt: &str, status: &str, images: i32) -> String;
    fn generation_status_label(&self, status: crate::domain::status::GenerationStatus) -> String;
    fn referral(&self, link: &str, joined: i64, paid: i64, earned: i64, bonus: i64) -> String;
    fn referral_joined(&self, name: &str) -> String;
    fn referral_bonus(&self, tokens: i64) -> String;
    fn cancelled(&self) -> String;
    /// `/delete_me`: what deleting the account's data removes and what it keeps, before confirming.
    fn erase_explain(&self) -> String;
    fn button_erase_confirm(&self) -> String;
    fn button_erase_cancel(&self) -> String;
    /// The data is deleted; `balance` tokens are still theirs.
    fn erase_done(&self, balance: i64) -> String;
    fn erase_kept(&self) -> String;
    fn train_ask_name(&self) -> String;
    fn train_bad_name(&self) -> String;
    fn train_ask_photos(&self, name: &str, min: i64, max: i64) -> String;
    fn photos_status(&self, count: i64, min: i64, max: i64, cost: i64) -> String;
    fn photos_full(&self, max: i64) -> String;
    fn photo_not_image(&self) -> String;
    fn photo_too_large(&self) -> String;
    fn photo_outside_dialog(&self) -> String;
    fn button_start_training(&self, cost: i64) -> String;
    fn training_started(&self, name: &str) -> String;
    fn too_few_photos(&self, count: i64, min: i64) -> String;
    fn not_enough_tokens(&self, available: i64, required: i64) -> String;
    fn button_buy(&self) -> String;
    fn already_started(&self) -> String;
    fn model_not_ready(&self) -> String;
    fn button_no_style(&self) -> String;
    fn ask_prompt(&self, max: usize) -> String;
    fn bad_prompt(&self, max: usize) -> String;
    fn choose_count(&self, price: i64) -> String;
    fn button_count(&self, images: i32, cost: i64) -> String;
    fn generation_started(&self, images: i32) -> String;
    fn outdated_button(&self) -> String;
    fn try_later(&self) -> String;
    fn buy_header(&self) -> String;
    fn button_pack(&self, tokens: i64, price: &str) -> String;
    fn invoice_title(&self, tokens: i64) -> String;
    fn invoice_description(&self, tokens: i64) -> String;
    fn payment_thanks(&self, tokens: i64, balance: i64) -> String;
    fn checkout_unknown_pack(&self) -> String;
    fn admin_stats(&self, s: &crate::repo::stats::GlobalStats) -> String;
    fn admin_users_usage(&self) -> String;
    fn admin_user_not_found(&self) -> String;
    fn admin_user(
        &self,
        u: &crate::repo::users::User,
        payments: &[crate::repo::payments::Payment],
    ) -> String;
    fn button_block(&self, blocked: bool) -> String;
    fn button_tokens(&self, delta: i64) -> String;
    fn admin_done(&self, what: &str) -> String;
    fn admin_models(
        &self,
        recent: &[crate::repo::models::Model],
        failing: &[crate::repo::models::Model],
    ) -> String;
    fn admin_payments(
        &self,
        recent: &[crate::repo::payments::Payment],
        totals: &[crate::repo::payments::Revenue],
    ) -> String;
    fn admin_styles(&self, styles: &[crate::repo::styles::Style]) -> String;
    fn button_style_toggle(&self, name: &str, active: bool) -> String;
    fn admin_style_usage(&self) -> String;
    fn admin_style_exists(&self) -> String;
    fn admin_new_user(&self, user: &str, id: i64, referred: bool) -> String;
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
