//! What any function says to people outside a conversation: the notices the effect log carries (a
//! finished training, a failed generation, a payment), rendered in the user's language, the album's
//! caption and the invoice's texts; and "blocked the bot" handled once, here. Each language's words
//! are in its own module ([`NoticeTexts`]); how a notice is put together is written once, below.

pub mod commands;
mod en;
mod format;
mod ru;

use std::fmt::Display;

use teloxide_core::types::{InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

use crate::db::DbError;
use crate::domain::callbacks::Callback;
use crate::domain::progress::Progress;
use crate::domain::rules::AspectRatio;
use crate::effects::{AdminNotice, Notice};
use crate::errors::Transient;
use crate::repo::users::{self, User};
use crate::services::Services;
use crate::telegram::TelegramError;

pub use crate::domain::lang::Lang;
pub use format::{fill, html, money};

/// The language of the admins' notices (the team's).
const ADMIN_LANG: Lang = Lang::Ru;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
}

impl Transient for NotifyError {
    fn is_transient(&self) -> bool {
        match self {
            NotifyError::Db(e) => e.is_transient(),
            NotifyError::Telegram(e) => e.is_transient(),
        }
    }
}

/// The language a user is spoken to in (see [`Lang::of`]).
pub fn lang_of(user: &User) -> Lang {
    user.lang()
}

pub async fn mark_blocked(services: &Services, user_id: i64) -> Result<(), NotifyError> {
    let db = services.db();
    users::mark_bot_blocked(&**db.conn().await?, user_id).await?;
    Ok(())
}

/// The words of the notices and invoices in one language. Each is a template for
/// [`fill`]: its placeholders are named in the comments.
pub struct NoticeTexts {
    /// `{name}`
    model_ready: &'static str,
    button_generate: &'static str,
    /// `{name}`, `{refund}` (the [`NoticeTexts::refund`] sentence, or nothing)
    training_failed: &'static str,
    /// `{refund}`
    generation_failed: &'static str,
    /// `{refund}`: Replicate's safety checker refused the picture.
    generation_unsafe: &'static str,
    /// `{refunded}`: how many tokens came back, said after a failure.
    refund: &'static str,
    rate_prompt: &'static str,
    /// Under the rating buttons: `{cost}` of "more like this"
    again_prompt: &'static str,
    button_again: &'static str,
    /// "More like this" in a shape: `{ratio}` (1:1, 3:4, 9:16)
    button_again_in: &'static str,
    /// After a rating of 1 or 2
    free_redo_offered: &'static str,
    button_free_redo: &'static str,
    /// After a failed free redo: nothing was charged, and it may be asked for again
    free_redo_back: &'static str,
    /// `{tokens}`, `{balance}`
    payment_thanks: &'static str,
    /// `{payment_id}`
    payment_disputed: &'static str,
    /// `{name}`
    referral_joined: &'static str,
    /// `{tokens}`
    referral_bonus: &'static str,
    start_training_first: &'static str,
    /// `{tokens}`
    invoice_title: &'static str,
    /// `{tokens}`
    invoice_description: &'static str,
    /// `{tokens}` taken back, `{paid}`, `{balance}`
    payment_refunded: &'static str,
    /// A training's status message: `{name}`
    training_progress: &'static str,
    /// A generation's status message: `{images}`
    generation_progress: &'static str,
    /// `{bar}`, `{percent}`
    progress_bar: &'static str,
    /// `{step}`, `{total}`
    progress_steps: &'static str,
    /// `{left}` (a [`NoticeTexts::minutes`] or [`NoticeTexts::seconds`])
    progress_left: &'static str,
    /// `{n}`
    minutes: &'static str,
    /// `{n}`
    seconds: &'static str,
    admin: AdminNoticeTexts,
}

/// The admins' notices: `{user}` is who it is about (a name, or their id when they are gone),
/// `{paid}` an amount with its currency.
struct AdminNoticeTexts {
    /// `{user}`, `{id}`, `{referred}` (the [`AdminNoticeTexts::referred`] words, or nothing)
    new_user: &'static str,
    referred: &'static str,
    /// `{user}`, `{tokens}`, `{paid}`
    payment: &'static str,
    /// `{payment_id}`, `{user}`, `{paid}`, `{pack}`, `{tokens}`
    unknown_pack_credited: &'static str,
    /// `{payment_id}`, `{user}`, `{paid}`, `{pack}`
    unknown_pack_not_credited: &'static str,
    /// `{payment_id}`, `{user}`, `{paid}`, `{reason}`
    payment_disputed: &'static str,
    /// `{model_id}`, `{user}`, `{error}`
    training_failed: &'static str,
    /// `{generation_id}`, `{user}`, `{error}`
    generation_failed: &'static str,
    /// `{error}`
    replicate_refused_us: &'static str,
    /// `{effect_id}`, `{what}`, `{error}`
    effect_failed: &'static str,
    /// `{user}`, `{paid}`, `{charge_id}`
    payment_not_recorded: &'static str,
    /// `{payment_id}`, `{user}`, `{paid}`, `{tokens}`, `{by}` (one of the two below)
    payment_refunded: &'static str,
    /// `{payment_id}`, `{user}`, `{paid}`, `{taken}`, `{tokens}`, `{by}`: fewer taken than bought
    payment_refunded_short: &'static str,
    refunded_by_admin: &'static str,
    refunded_by_telegram: &'static str,
    /// `{payment_id}`, `{user}`, `{error}`
    refund_refused: &'static str,
}

pub fn texts(lang: Lang) -> &'static NoticeTexts {
    match lang {
        Lang::Ru => &ru::TEXTS,
        Lang::En => &en::TEXTS,
    }
}

impl NoticeTexts {
    pub fn invoice_title(&self, tokens: i64) -> String {
        fill(self.invoice_title, &[("tokens", &tokens)])
    }

    pub fn invoice_description(&self, tokens: i64) -> String {
        fill(self.invoice_description, &[("tokens", &tokens)])
    }

    /// The text of a notice to a user (names already escaped for HTML).
    fn notice(&self, notice: &Notice) -> String {
        match notice {
            Notice::ModelReady { name, .. } => fill(self.model_ready, &[("name", &html(name))]),
            Notice::TrainingFailed { name, refunded } => fill(
                self.training_failed,
                &[("name", &html(name)), ("refund", &self.refund(*refunded))],
            ),
            Notice::GenerationFailed {
                refunded,
                free_redo_of,
            } => {
                let failed = fill(
                    self.generation_failed,
                    &[("refund", &self.refund(*refunded))],
                );
                match free_redo_of {
                    Some(_) => format!("{failed}\n\n{}", self.free_redo_back),
                    None => failed,
                }
            }
            Notice::GenerationUnsafe { refunded } => fill(
                self.generation_unsafe,
                &[("refund", &self.refund(*refunded))],
            ),
            Notice::RatePrompt {
                again_cost: None, ..
            } => self.rate_prompt.to_owned(),
            Notice::RatePrompt {
                again_cost: Some(cost),
                ..
            } => format!(
                "{}\n\n{}",
                self.rate_prompt,
                fill(self.again_prompt, &[("cost", cost)])
            ),
            Notice::FreeRedoOffered { .. } => self.free_redo_offered.to_owned(),
            Notice::PaymentReceived { tokens, balance } => fill(
                self.payment_thanks,
                &[("tokens", tokens), ("balance", balance)],
            ),
            Notice::PaymentDisputed { payment_id } => {
                fill(self.payment_disputed, &[("payment_id", payment_id)])
            }
            Notice::ReferralJoined { friend } => {
                fill(self.referral_joined, &[("name", &html(friend))])
            }
            Notice::ReferralBonus { tokens } => fill(self.referral_bonus, &[("tokens", tokens)]),
            Notice::StartTrainingFirst => self.start_training_first.to_owned(),
            Notice::PaymentRefunded {
                tokens,
                balance,
                amount,
                currency,
            } => fill(
                self.payment_refunded,
                &[
                    ("tokens", tokens),
                    ("paid", &money(*amount, currency)),
                    ("balance", balance),
                ],
            ),
        }
    }

    /// A job's status message: what it is, then the progress bar, the steps and the time left as
    /// far as they are known.
    fn progress(&self, job: &ProgressOf, progress: Option<&Progress>) -> String {
        let mut text = match job {
            ProgressOf::Training { name } => fill(self.training_progress, &[("name", &html(name))]),
            ProgressOf::Generation { images } => {
                fill(self.generation_progress, &[("images", images)])
            }
        };
        let Some(progress) = progress else {
            return text;
        };
        text.push_str("\n\n");
        text.push_str(&fill(
            self.progress_bar,
            &[
                ("bar", &crate::domain::progress::bar(progress.percent, 10)),
                ("percent", &progress.percent),
            ],
        ));
        if let Some((step, total)) = progress.steps {
            text.push_str(" · ");
            text.push_str(&fill(
                self.progress_steps,
                &[("step", &step), ("total", &total)],
            ));
        }
        if let Some(seconds) = progress.eta_seconds.filter(|s| *s > 0) {
            let left = if seconds >= 60 {
                fill(self.minutes, &[("n", &((seconds + 59) / 60))])
            } else {
                fill(self.seconds, &[("n", &seconds)])
            };
            text.push('\n');
            text.push_str(&fill(self.progress_left, &[("left", &left)]));
        }
        text
    }

    fn refund(&self, refunded: i64) -> String {
        if refunded > 0 {
            fill(self.refund, &[("refunded", &refunded)])
        } else {
            String::new()
        }
    }

    /// The text of a notice to the admins, about `user` (escaped for HTML).
    fn admin_notice(&self, notice: &AdminNotice, user: &str) -> String {
        let t = &self.admin;
        let user: &dyn Display = &user;
        match notice {
            AdminNotice::NewUser { user_id, referred } => fill(
                t.new_user,
                &[
                    ("user", user),
                    ("id", user_id),
                    ("referred", &if *referred { t.referred } else { "" }),
                ],
            ),
            AdminNotice::Payment {
                tokens,
                amount,
                currency,
                ..
            } => fill(
                t.payment,
                &[
                    ("user", user),
                    ("tokens", tokens),
                    ("paid", &money(*amount, currency)),
                ],
            ),
            AdminNotice::PaymentForUnknownPack {
                payment_id,
                pack_id,
                tokens,
                amount,
                currency,
                ..
            } => {
                let paid = money(*amount, currency);
                let pack = html(pack_id);
                let mut values: Vec<(&str, &dyn Display)> = vec![
                    ("payment_id", payment_id),
                    ("user", user),
                    ("paid", &paid),
                    ("pack", &pack),
                ];
                // `tokens` 0: the invoice did not say how many, so nothing was credited.
                if *tokens > 0 {
                    values.push(("tokens", tokens));
                    fill(t.unknown_pack_credited, &values)
                } else {
                    fill(t.unknown_pack_not_credited, &values)
                }
            }
            AdminNotice::PaymentDisputed {
                payment_id,
                amount,
                currency,
                reason,
                ..
            } => fill(
                t.payment_disputed,
                &[
                    ("payment_id", payment_id),
                    ("user", user),
                    ("paid", &money(*amount, currency)),
                    ("reason", &html(reason)),
                ],
            ),
            AdminNotice::TrainingFailed {
                model_id, error, ..
            } => fill(
                t.training_failed,
                &[
                    ("model_id", model_id),
                    ("user", user),
                    ("error", &html(error)),
                ],
            ),
            AdminNotice::GenerationFailed {
                generation_id,
                error,
                ..
            } => fill(
                t.generation_failed,
                &[
                    ("generation_id", generation_id),
                    ("user", user),
                    ("error", &html(error)),
                ],
            ),
            AdminNotice::ReplicateRefusedUs { error } => {
                fill(t.replicate_refused_us, &[("error", &html(error))])
            }
            AdminNotice::PaymentNotRecorded {
                charge_id,
                amount,
                currency,
                ..
            } => fill(
                t.payment_not_recorded,
                &[
                    ("user", user),
                    ("paid", &money(*amount, currency)),
                    ("charge_id", &html(charge_id)),
                ],
            ),
            AdminNotice::PaymentRefunded {
                payment_id,
                tokens,
                taken,
                amount,
                currency,
                by_telegram,
                ..
            } => {
                let paid = money(*amount, currency);
                let by = if *by_telegram {
                    t.refunded_by_telegram
                } else {
                    t.refunded_by_admin
                };
                let mut values: Vec<(&str, &dyn Display)> = vec![
                    ("payment_id", payment_id),
                    ("user", user),
                    ("paid", &paid),
                    ("tokens", tokens),
                    ("by", &by),
                ];
                if taken < tokens {
                    values.push(("taken", taken));
                    fill(t.payment_refunded_short, &values)
                } else {
                    fill(t.payment_refunded, &values)
                }
            }
            AdminNotice::RefundRefused {
                payment_id, error, ..
            } => fill(
                t.refund_refused,
                &[
                    ("payment_id", payment_id),
                    ("user", user),
                    ("error", &html(error)),
                ],
            ),
            AdminNotice::EffectFailed {
                effect_id,
                dedupe_key,
                error,
            } => fill(
                t.effect_failed,
                &[
                    ("effect_id", effect_id),
                    ("what", &html(dedupe_key)),
                    ("error", &html(error)),
                ],
            ),
        }
    }
}

/// An inline keyboard with one button per row.
fn buttons(rows: Vec<(String, String)>) -> ReplyMarkup {
    ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(
        rows.into_iter()
            .map(|(label, data)| vec![InlineKeyboardButton::callback(label, data)]),
    ))
}

/// The text and buttons of a notice to `user`.
pub fn user_notice(user: &User, notice: &Notice) -> (String, Option<ReplyMarkup>) {
    let t = texts(lang_of(user));
    let markup = match notice {
        Notice::ModelReady { model_id, .. } => Some(buttons(vec![(
            t.button_generate.to_owned(),
            Callback::Generate {
                model_id: *model_id,
            }
            .encode(),
        )])),
        Notice::RatePrompt {
            generation_id,
            again_cost,
        } => Some(rating_buttons(t, *generation_id, again_cost.is_some())),
        Notice::FreeRedoOffered { generation_id }
        | Notice::GenerationFailed {
            free_redo_of: Some(generation_id),
            ..
        } => Some(buttons(vec![(
            t.button_free_redo.to_owned(),
            Callback::FreeRedo {
                generation_id: *generation_id,
            }
            .encode(),
        )])),
        _ => None,
    };
    (t.notice(notice), markup)
}

/// One row of 1-5 stars; with `again`, "more like this" under it (the shape it had), and a row of
/// it in each shape.
fn rating_buttons(t: &NoticeTexts, generation_id: i64, again: bool) -> ReplyMarkup {
    let button = |label: String, callback: Callback| {
        InlineKeyboardButton::callback(label, callback.encode())
    };
    let mut rows = vec![(1..=5)
        .map(|rating| {
            button(
                "⭐".repeat(rating as usize),
                Callback::Rate {
                    generation_id,
                    rating,
                },
            )
        })
        .collect::<Vec<_>>()];
    if again {
        rows.push(vec![button(
            t.button_again.to_owned(),
            Callback::Again {
                generation_id,
                aspect_ratio: None,
            },
        )]);
        rows.push(
            AspectRatio::ALL
                .into_iter()
                .map(|ratio| {
                    button(
                        fill(t.button_again_in, &[("ratio", &ratio.as_str())]),
                        Callback::Again {
                            generation_id,
                            aspect_ratio: Some(ratio),
                        },
                    )
                })
                .collect(),
        );
    }
    ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(rows))
}

/// The text of a notice to the admins; `who` is the user it is about, when they still exist.
pub fn admin_notice(notice: &AdminNotice, who: Option<&User>) -> String {
    let user = match (who, notice.user_id()) {
        (Some(who), _) => html(&who.display_name()),
        (None, Some(user_id)) => user_id.to_string(),
        (None, None) => String::new(),
    };
    texts(ADMIN_LANG).admin_notice(notice, &user)
}

/// What a status message is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressOf {
    Training { name: String },
    Generation { images: i32 },
}

/// The text of a job's status message to `user`, with what was last reported of its progress.
pub fn progress_text(user: &User, job: &ProgressOf, progress: Option<&Progress>) -> String {
    texts(lang_of(user)).progress(job, progress)
}

/// The caption of a generation's album: its prompt (the same in every language).
pub fn generation_caption(prompt: &str) -> String {
    format!("✨ {}", html(prompt))
}

impl AdminNotice {
    /// The user the notice is about.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            AdminNotice::NewUser { user_id, .. }
            | AdminNotice::Payment { user_id, .. }
            | AdminNotice::PaymentForUnknownPack { user_id, .. }
            | AdminNotice::PaymentDisputed { user_id, .. }
            | AdminNotice::TrainingFailed { user_id, .. }
            | AdminNotice::GenerationFailed { user_id, .. }
            | AdminNotice::PaymentNotRecorded { user_id, .. }
            | AdminNotice::PaymentRefunded { user_id, .. }
            | AdminNotice::RefundRefused { user_id, .. } => Some(*user_id),
            AdminNotice::EffectFailed { .. } | AdminNotice::ReplicateRefusedUs { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::{AdminNotice, Notice};

    fn notices() -> Vec<Notice> {
        vec![
            Notice::ModelReady {
                model_id: 1,
                name: "M".into(),
            },
            Notice::TrainingFailed {
                name: "M".into(),
                refunded: 100,
            },
            Notice::TrainingFailed {
                name: "M".into(),
                refunded: 0,
            },
            Notice::GenerationFailed {
                refunded: 20,
                free_redo_of: None,
            },
            Notice::GenerationFailed {
                refunded: 0,
                free_redo_of: Some(1),
            },
            Notice::GenerationUnsafe { refunded: 20 },
            Notice::RatePrompt {
                generation_id: 1,
                again_cost: None,
            },
            Notice::RatePrompt {
                generation_id: 1,
                again_cost: Some(10),
            },
            Notice::FreeRedoOffered { generation_id: 1 },
            Notice::PaymentReceived {
                tokens: 100,
                balance: 250,
            },
            Notice::PaymentDisputed { payment_id: 1 },
            Notice::ReferralJoined {
                friend: "Bo".into(),
            },
            Notice::ReferralBonus { tokens: 50 },
            Notice::StartTrainingFirst,
            Notice::PaymentRefunded {
                tokens: 100,
                balance: 5,
                amount: 150,
                currency: "XTR".into(),
            },
        ]
    }

    fn admin_notices() -> Vec<AdminNotice> {
        let unknown_pack = |tokens| AdminNotice::PaymentForUnknownPack {
            user_id: 1,
            payment_id: 2,
            pack_id: "old".into(),
            tokens,
            amount: 150,
            currency: "XTR".into(),
        };
        vec![
            AdminNotice::NewUser {
                user_id: 1,
                referred: true,
            },
            AdminNotice::Payment {
                user_id: 1,
                tokens: 100,
                amount: 150,
                currency: "XTR".into(),
            },
            unknown_pack(100),
            unknown_pack(0),
            AdminNotice::PaymentDisputed {
                user_id: 1,
                payment_id: 2,
                amount: 150,
                currency: "XTR".into(),
                reason: "amount".into(),
            },
            AdminNotice::TrainingFailed {
                user_id: 1,
                model_id: 2,
                error: "e".into(),
            },
            AdminNotice::GenerationFailed {
                user_id: 1,
                generation_id: 2,
                error: "e".into(),
            },
            AdminNotice::PaymentNotRecorded {
                user_id: 1,
                charge_id: "ch_1".into(),
                amount: 150,
                currency: "XTR".into(),
            },
            AdminNotice::ReplicateRefusedUs { error: "e".into() },
            AdminNotice::PaymentRefunded {
                user_id: 1,
                payment_id: 2,
                tokens: 100,
                taken: 100,
                amount: 150,
                currency: "XTR".into(),
                by_telegram: false,
            },
            AdminNotice::PaymentRefunded {
                user_id: 1,
                payment_id: 2,
                tokens: 100,
                taken: 40,
                amount: 150,
                currency: "XTR".into(),
                by_telegram: true,
            },
            AdminNotice::RefundRefused {
                user_id: 1,
                payment_id: 2,
                error: "e".into(),
            },
            AdminNotice::EffectFailed {
                effect_id: 1,
                dedupe_key: "k".into(),
                error: "e".into(),
            },
        ]
    }

    /// Every template of every language gets exactly the values it names ([`fill`] checks).
    #[test]
    fn every_notice_renders_in_every_language() {
        for lang in [Lang::Ru, Lang::En] {
            let t = texts(lang);
            for notice in notices() {
                assert!(!t.notice(&notice).is_empty());
            }
            for notice in admin_notices() {
                assert!(!t.admin_notice(&notice, "@ann").is_empty());
            }
            let progress = Progress {
                percent: 45,
                steps: Some((450, 1000)),
                eta_seconds: Some(380),
            };
            let training = ProgressOf::Training { name: "M".into() };
            let generation = ProgressOf::Generation { images: 2 };
            for job in [&training, &generation] {
                assert!(!t.progress(job, None).contains('%'));
                let shown = t.progress(job, Some(&progress));
                assert!(shown.contains("▓▓▓▓▓░░░░░ 45%"), "{shown}");
                assert!(shown.contains("450") && shown.contains("1000"), "{shown}");
                assert!(shown.contains('7'), "about 7 minutes left: {shown}");
            }
            assert!(t.invoice_title(100).contains("100"));
            assert!(t.invoice_description(100).contains("100"));
        }
    }

    #[test]
    fn an_admin_notice_names_the_user_by_id_when_they_are_gone() {
        let notice = AdminNotice::NewUser {
            user_id: 7,
            referred: false,
        };
        assert_eq!(
            admin_notice(&notice, None),
            "👋 Новый пользователь: 7 (id 7)"
        );
    }
}
