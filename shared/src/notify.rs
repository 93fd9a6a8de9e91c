//! Messages to a user or to the admins from outside a conversation (a finished training, a failed
//! generation, a payment): the notices the effect log carries, rendered in the user's language, and
//! "blocked the bot" handled once, here.

use teloxide_core::types::{InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup};

use crate::db::DbError;
use crate::domain::callbacks::Callback;
use crate::effects::{AdminNotice, Notice};
use crate::errors::Transient;
use crate::repo::users::{self, User};
use crate::services::{Services, Unavailable};
use crate::telegram::TelegramError;
use crate::texts::{html, texts, Lang, Texts};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

impl Transient for NotifyError {
    fn is_transient(&self) -> bool {
        match self {
            NotifyError::Db(e) => e.is_transient(),
            NotifyError::Telegram(e) => e.is_transient(),
            NotifyError::Unavailable(e) => e.is_transient(),
        }
    }
}

pub fn lang_of(user: &User) -> Lang {
    Lang::from_code(user.language_code.as_deref())
}

pub fn texts_for(user: &User) -> &'static dyn Texts {
    texts(lang_of(user))
}

pub async fn mark_blocked(services: &Services, user_id: i64) -> Result<(), NotifyError> {
    let db = services.db()?;
    users::mark_bot_blocked(&**db.conn().await?, user_id).await?;
    Ok(())
}

/// The admins' texts (Russian: the team's language).
pub fn admin_texts() -> &'static dyn Texts {
    texts(Lang::Ru)
}

/// An inline keyboard with one button per row.
pub fn buttons(rows: Vec<(String, String)>) -> ReplyMarkup {
    ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(
        rows.into_iter()
            .map(|(label, data)| vec![InlineKeyboardButton::callback(label, data)]),
    ))
}

/// The text and buttons of a notice to `user`.
pub fn user_notice(user: &User, notice: &Notice) -> (String, Option<ReplyMarkup>) {
    let t = texts_for(user);
    match notice {
        Notice::ModelReady { model_id, name } => (
            t.model_ready(&html(name)),
            Some(buttons(vec![(
                t.button_generate(),
                Callback::Generate {
                    model_id: *model_id,
                }
                .encode(),
            )])),
        ),
        Notice::TrainingFailed { name, refunded } => {
            (t.training_failed(&html(name), *refunded), None)
        }
        Notice::GenerationFailed { refunded } => (t.generation_failed(*refunded), None),
        Notice::RatePrompt { generation_id } => {
            (t.rate_prompt(), Some(rating_buttons(*generation_id)))
        }
        Notice::PaymentReceived { tokens, balance } => (t.payment_thanks(*tokens, *balance), None),
        Notice::PaymentDisputed { payment_id } => (t.payment_disputed(*payment_id), None),
        Notice::ReferralJoined { friend } => (t.referral_joined(&html(friend)), None),
        Notice::ReferralBonus { tokens } => (t.referral_bonus(*tokens), None),
    }
}

/// One row of 1-5 stars.
fn rating_buttons(generation_id: i64) -> ReplyMarkup {
    ReplyMarkup::InlineKeyboard(InlineKeyboardMarkup::new(vec![(1..=5)
        .map(|rating| {
            InlineKeyboardButton::callback(
                "⭐".repeat(rating as usize),
                Callback::Rate {
                    generation_id,
                    rating,
                }
                .encode(),
            )
        })
        .collect::<Vec<_>>()]))
}

/// The text of a notice to the admins; `who` is the user it is about, when they still exist.
pub fn admin_notice(notice: &AdminNotice, who: Option<&User>) -> String {
    let t = admin_texts();
    let name = |user_id: i64| {
        who.map(|u| html(&u.display_name()))
            .unwrap_or_else(|| user_id.to_string())
    };
    match notice {
        AdminNotice::NewUser { user_id, referred } => {
            t.admin_new_user(&name(*user_id), *user_id, *referred)
        }
        AdminNotice::Payment {
            user_id,
            tokens,
            amount,
            currency,
        } => t.admin_payment(&name(*user_id), *tokens, *amount, currency),
        AdminNotice::PaymentForUnknownPack {
            user_id,
            payment_id,
            pack_id,
            tokens,
            amount,
            currency,
        } => t.admin_payment_unknown_pack(
            &name(*user_id),
            *payment_id,
            &html(pack_id),
            *tokens,
            *amount,
            currency,
        ),
        AdminNotice::PaymentDisputed {
            user_id,
            payment_id,
            amount,
            currency,
            reason,
        } => t.admin_payment_disputed(
            &name(*user_id),
            *payment_id,
            *amount,
            currency,
            &html(reason),
        ),
        AdminNotice::TrainingFailed {
            user_id,
            model_id,
            error,
        } => t.admin_training_failed(&name(*user_id), *model_id, &html(error)),
        AdminNotice::GenerationFailed {
            user_id,
            generation_id,
            error,
        } => t.admin_generation_failed(&name(*user_id), *generation_id, &html(error)),
        AdminNotice::ReplicateRefusedUs { error } => t.admin_replicate_refused_us(&html(error)),
        AdminNotice::EffectFailed {
            effect_id,
            dedupe_key,
            error,
        } => t.admin_effect_failed(*effect_id, &html(dedupe_key), &html(error)),
    }
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
            | AdminNotice::GenerationFailed { user_id, .. } => Some(*user_id),
            AdminNotice::EffectFailed { .. } | AdminNotice::ReplicateRefusedUs { .. } => None,
        }
    }
}
