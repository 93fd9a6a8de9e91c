//! Everything the bot says in a conversation, in Russian and English. Each language's words are one
//! [`Texts`] value in its own module, so a text missing in one language does not compile; how a
//! message is put together is written once: here, and in `reports` for the admins' reports.
//! Texts are HTML: names and prompts are escaped by the caller, amounts come formatted.

mod en;
mod reports;
mod ru;

use shared::domain::photos::Problem;
use shared::domain::status::{GenerationStatus, ModelStatus};
use shared::notify::fill;
use shared::usecases::promo::Refusal;
use shared::usecases::training::ToReplace;

pub use shared::notify::{html, money, Lang};

pub fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ru => &ru::TEXTS,
        Lang::En => &en::TEXTS,
    }
}

/// What the bot says in one language: whole texts (public), and the texts with values, filled
/// by the methods of the same name.
pub struct Texts {
    pub help_title: &'static str,
    pub unknown_command: &'static str,
    pub blocked: &'static str,
    /// Who to write to when no `SUPPORT_CONTACT` and no owner is set.
    pub no_support_contact: &'static str,
    pub button_new_model: &'static str,
    /// The link text of the owner who is the support contact by default.
    pub support_link: &'static str,
    pub cancelled: &'static str,
    pub outdated_button: &'static str,
    pub try_later: &'static str,

    pub menu_train: &'static str,
    pub menu_models: &'static str,
    pub menu_balance: &'static str,
    pub menu_buy: &'static str,
    pub menu_referral: &'static str,
    pub menu_help: &'static str,

    pub models_empty: &'static str,
    pub models_header: &'static str,
    /// A system model's line says this instead of a status.
    pub system_model_label: &'static str,
    pub history_empty: &'static str,
    pub history_header: &'static str,

    /// `/delete_me`: what deleting the account's data removes and what it keeps, before confirming.
    pub erase_explain: &'static str,
    pub button_erase_confirm: &'static str,
    pub button_erase_cancel: &'static str,
    pub erase_kept: &'static str,

    /// `/language`: the question, the same in both languages (the person may read only one).
    pub language_choose: &'static str,
    /// Said in the language just chosen.
    pub language_set: &'static str,
    /// The button that opens the Mini App, and the words offering it.
    pub button_mini_app: &'static str,
    pub mini_app_offer: &'static str,

    pub train_ask_name: &'static str,
    pub train_bad_name: &'static str,
    pub photo_not_image: &'static str,
    pub photo_too_large: &'static str,
    pub already_started: &'static str,
    /// Above the photos the check found a problem with.
    pub photos_replace_header: &'static str,

    pub model_not_ready: &'static str,
    /// "More like this" pressed again on the same album (and shape): one is made per button.
    pub again_already_made: &'static str,
    /// A prompt refused by the block list: nothing was paid.
    pub prompt_refused: &'static str,
    pub choose_tag: &'static str,
    pub button_all_styles: &'static str,
    pub button_no_style: &'static str,
    pub button_prev: &'static str,
    pub button_next: &'static str,
    pub rate_thanks: &'static str,
    pub comment_thanks: &'static str,
    /// A free redo pressed again (or at once twice): it was made once.
    pub free_redo_used: &'static str,
    /// "More like this" of a generation whose style was switched off since.
    pub style_gone: &'static str,

    pub buy_header: &'static str,
    pub button_buy: &'static str,
    pub checkout_unknown_pack: &'static str,
    pub promo_usage: &'static str,

    pub owners_only: &'static str,
    pub admin_users_usage: &'static str,
    pub admin_user_not_found: &'static str,
    pub admin_system_usage: &'static str,
    pub admin_style_usage: &'static str,
    pub admin_style_exists: &'static str,
    pub admin_promo_usage: &'static str,
    pub admin_refund_usage: &'static str,
    pub admin_refund_not_found: &'static str,
    pub admin_refund_already: &'static str,
    pub admin_refund_in_progress: &'static str,
    pub button_block: &'static str,
    pub button_unblock: &'static str,

    templates: Templates,
    photo_problems: PhotoProblemLabels,
    model_statuses: ModelStatusLabels,
    generation_statuses: GenerationStatusLabels,
    promo_refusals: PromoRefusals,
    reports: reports::Labels,
}

/// Declares the texts with values: a field of [`Templates`] each, filled by the method of the same
/// name, whose parameters are the template's placeholders (`{name}` for `name`).
macro_rules! templates {
    ($($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*);)*) => {
        /// Each language's sentences around the placeholders their methods name.
        struct Templates {
            $($name: &'static str,)*
        }

        impl Texts {
            $(
                $(#[$attr])*
                $vis fn $name(&self, $($arg: $ty),*) -> String {
                    fill(self.templates.$name, &[$((stringify!($arg), &$arg)),*])
                }
            )*
        }
    };
}

templates! {
    pub fn welcome(first_name: &str);
    /// `contact`: HTML, made by the caller.
    pub fn pay_support(contact: &str);
    pub fn terms(contact: &str, training: i64, image: i64);
    pub fn blocked_contact(contact: &str);
    pub fn balance(left: i64, spent: i64);
    pub fn model_line(name: &str, status: &str, photos: i64);
    pub fn button_generate_with(name: &str);
    /// Giving consent to offer the model to everyone.
    pub fn button_share(name: &str);
    /// Withdrawing it.
    pub fn button_unshare(name: &str);
    /// Retraining a ready model with more photos.
    pub fn button_retrain(name: &str);
    /// A retraining started, `photos` of the old model's photos carried into it.
    pub fn retrain_started(name: &str, photos: i64, cost: i64);
    pub fn history_line(date: &str, prompt: &str, status: &str, images: i32);
    pub fn referral(link: &str, joined: i64, paid: i64, earned: i64, bonus: i64);
    /// The data is deleted; `balance` tokens are still theirs.
    pub fn erase_done(balance: i64);

    pub fn train_ask_photos(name: &str, min: i64, max: i64);
    /// `/train` with a draft left behind.
    pub fn draft_found(name: &str, photos: i64);
    pub fn button_resume_draft(name: &str);
    fn photos_missing(count: i64, min: i64, max: i64, missing: i64);
    fn photos_enough(count: i64, max: i64, cost: i64);
    pub fn photos_full(max: i64);
    pub fn button_start_training(cost: i64);
    /// A photo to replace: its number in the order they came, and why.
    fn photo_to_replace(number: i64, reason: &str);
    /// Below the last lines of a long list: how many earlier ones are not shown.
    fn photos_replace_more(more: i64);
    /// Why a photo is too small: its short side is under `min` px.
    fn problem_too_small(min: i64);
    pub fn too_few_photos(count: i64, min: i64);
    pub fn not_enough_tokens(available: i64, required: i64);

    /// `tag`: the quoted tag after a space, or nothing.
    fn pick_style(tag: &str, page: u32, pages: u32);
    /// In the language's quotation marks.
    fn quote(text: &str);
    pub fn ask_prompt(max: usize);
    pub fn bad_prompt(max: usize);
    pub fn choose_count(price: i64);
    pub fn button_count(images: i32, cost: i64);

    pub fn button_pack(tokens: i64, price: &str);
    pub fn discount_note(percent: i32);
    pub fn promo_tokens(tokens: i64, balance: i64);
    pub fn promo_discount(percent: i32);
    fn promo_too_many_attempts(minutes: i64);

    pub fn admin_done(what: &str);
    /// `delta` with its sign.
    fn tokens_delta(delta: &str);
    pub fn button_style_enable(name: &str);
    pub fn button_style_disable(name: &str);
    fn user_joined(date: &str);
    /// A funnel's period, longer than today.
    fn funnel_days(days: i32);
    /// What a promo code gives.
    fn gives_tokens(tokens: i64);
    fn gives_discount(percent: i32);
    /// Under the chart: its totals (`revenue` with its currency).
    pub fn chart_caption(days: i32, users: i64, generations: i64, revenue: &str);
    pub fn admin_refund_done(payment_id: i64, tokens: i64, balance: i64);
    pub fn admin_refund_pending(payment_id: i64, tokens: i64);
    pub fn admin_refund_refused(payment_id: i64, error: &str);
    pub fn admin_refund_spent(tokens: i64, balance: i64);
    pub fn admin_refund_not_stars(currency: &str);
}

/// Why a photo is to be replaced, in plain words (`too_small` is a template: it names the size).
struct PhotoProblemLabels {
    unreadable: &'static str,
    no_face: &'static str,
    several_faces: &'static str,
    face_too_small: &'static str,
    blurred: &'static str,
    duplicate: &'static str,
}

/// The photos to replace a status message lists at most (the latest ones).
const MAX_REPLACE_LINES: usize = 10;

struct ModelStatusLabels {
    draft: &'static str,
    queued: &'static str,
    training: &'static str,
    ready: &'static str,
    failed: &'static str,
    canceled: &'static str,
}

struct GenerationStatusLabels {
    in_progress: &'static str,
    succeeded: &'static str,
    failed: &'static str,
    canceled: &'static str,
}

struct PromoRefusals {
    unknown: &'static str,
    expired: &'static str,
    exhausted: &'static str,
    already_used: &'static str,
}

impl Texts {
    pub fn status_label(&self, status: ModelStatus) -> &'static str {
        let labels = &self.model_statuses;
        match status {
            ModelStatus::Draft => labels.draft,
            ModelStatus::Queued => labels.queued,
            ModelStatus::Training => labels.training,
            ModelStatus::Ready => labels.ready,
            ModelStatus::Failed => labels.failed,
            ModelStatus::Canceled => labels.canceled,
        }
    }

    pub fn generation_status_label(&self, status: GenerationStatus) -> &'static str {
        let labels = &self.generation_statuses;
        match status {
            GenerationStatus::Pending
            | GenerationStatus::Starting
            | GenerationStatus::Processing => labels.in_progress,
            GenerationStatus::Succeeded => labels.succeeded,
            GenerationStatus::Failed => labels.failed,
            GenerationStatus::Canceled => labels.canceled,
        }
    }

    pub fn photos_status(&self, count: i64, min: i64, max: i64, cost: i64) -> String {
        if count < min {
            self.photos_missing(count, min, max, min - count)
        } else {
            self.photos_enough(count, max, cost)
        }
    }

    /// Why a photo is to be replaced (`min_side`: the least short side, in px).
    pub fn photo_problem(&self, problem: Problem, min_side: i64) -> String {
        let labels = &self.photo_problems;
        match problem {
            Problem::Unreadable => labels.unreadable.to_owned(),
            Problem::TooSmall => self.problem_too_small(min_side),
            Problem::NoFace => labels.no_face.to_owned(),
            Problem::SeveralFaces => labels.several_faces.to_owned(),
            Problem::FaceTooSmall => labels.face_too_small.to_owned(),
            Problem::Blurred => labels.blurred.to_owned(),
            Problem::Duplicate => labels.duplicate.to_owned(),
        }
    }

    /// The photos to replace, each with why (the latest [`MAX_REPLACE_LINES`] of them).
    pub fn photos_to_replace(&self, photos: &[ToReplace], min_side: i64) -> String {
        let shown = &photos[photos.len().saturating_sub(MAX_REPLACE_LINES)..];
        let mut lines = vec![self.photos_replace_header.to_owned()];
        if shown.len() < photos.len() {
            lines.push(self.photos_replace_more((photos.len() - shown.len()) as i64));
        }
        for photo in shown {
            lines.push(self.photo_to_replace(
                photo.number as i64,
                &self.photo_problem(photo.problem, min_side),
            ));
        }
        lines.join("\n")
    }

    /// A page of the style catalogue (of one tag, or all); `page` from 0.
    pub fn styles_page(&self, tag: Option<&str>, page: u32, pages: u32) -> String {
        let tag = tag
            .map(|tag| format!(" {}", self.quote(tag)))
            .unwrap_or_default();
        self.pick_style(&tag, page + 1, pages)
    }

    pub fn promo_refused(&self, refusal: Refusal) -> String {
        let refusals = &self.promo_refusals;
        match refusal {
            Refusal::Unknown => refusals.unknown.to_owned(),
            Refusal::Expired => refusals.expired.to_owned(),
            Refusal::Exhausted => refusals.exhausted.to_owned(),
            Refusal::AlreadyUsed => refusals.already_used.to_owned(),
            Refusal::TooManyAttempts { retry_after } => {
                self.promo_too_many_attempts((retry_after + 59) / 60)
            }
        }
    }

    /// A use case's refusal, as its message says it (the same in every language).
    pub fn admin_error(&self, message: &str) -> String {
        format!("⚠️ {message}")
    }

    pub fn button_tokens(&self, delta: i64) -> String {
        self.tokens_delta(&format!("{delta:+}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template of every language gets exactly the values it names ([`fill`] checks).
    #[test]
    fn every_text_renders_in_every_language() {
        for lang in [Lang::Ru, Lang::En] {
            let t = texts(lang);
            let rendered = [
                t.welcome("Ann"),
                t.balance(1, 2),
                t.model_line("M", "ready", 3),
                t.button_generate_with("M"),
                t.button_share("M"),
                t.button_unshare("M"),
                t.button_retrain("M"),
                t.retrain_started("M", 12, 80),
                t.history_line("01.02", "cat", "done", 2),
                t.referral("link", 1, 2, 3, 4),
                t.erase_done(5),
                t.train_ask_photos("M", 10, 20),
                t.photos_status(3, 10, 20, 100),
                t.photos_status(12, 10, 20, 100),
                t.photos_full(20),
                t.button_start_training(100),
                t.photos_to_replace(
                    &(1..=12)
                        .map(|n| ToReplace {
                            number: n,
                            problem: Problem::ALL[n % Problem::ALL.len()],
                        })
                        .collect::<Vec<_>>(),
                    512,
                ),
                t.too_few_photos(3, 10),
                t.not_enough_tokens(5, 100),
                t.styles_page(Some("tag"), 0, 3),
                t.styles_page(None, 0, 3),
                t.ask_prompt(500),
                t.bad_prompt(500),
                t.choose_count(10),
                t.button_count(2, 20),
                t.button_pack(100, "150 ⭐"),
                t.discount_note(15),
                t.promo_tokens(100, 250),
                t.promo_discount(15),
                t.promo_refused(Refusal::TooManyAttempts { retry_after: 61 }),
                t.admin_done("x"),
                t.admin_refund_done(1, 100, 5),
                t.admin_refund_pending(1, 100),
                t.admin_refund_refused(1, "e"),
                t.admin_refund_spent(100, 5),
                t.admin_refund_not_stars("RUB"),
                t.button_tokens(-100),
                t.button_style_enable("S"),
                t.button_style_disable("S"),
                t.user_joined("2026-01-01"),
                t.funnel_days(7),
                t.gives_tokens(100),
                t.gives_discount(20),
                t.chart_caption(30, 21, 22, "5 ⭐"),
            ];
            assert!(rendered.iter().all(|text| !text.is_empty()));
            for status in ModelStatus::ALL {
                assert!(!t.status_label(status).is_empty());
            }
            for status in GenerationStatus::ALL {
                assert!(!t.generation_status_label(status).is_empty());
            }
        }
    }
}
