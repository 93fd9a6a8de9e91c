//! Messages to a user or to the admins from outside a conversation (a finished training, a failed
//! generation, a payment): the user's language, and "blocked the bot" handled once, here.

use teloxide_core::payloads::SendMessageSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Message, ParseMode, ReplyMarkup,
};

use crate::db::DbError;
use crate::http::error_chain;
use crate::once::Transient;
use crate::repo::users::{self, User};
use crate::services::{Services, Unavailable};
use crate::telegram::TelegramError;
use crate::texts::{texts, Lang, Texts};

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
            NotifyError::Db(_) => true,
            NotifyError::Telegram(e) => e.is_transient(),
            NotifyError::Unavailable(_) => false,
        }
    }
}

pub fn lang_of(user: &User) -> Lang {
    Lang::from_code(user.language_code.as_deref())
}

pub fn texts_for(user: &User) -> &'static dyn Texts {
    texts(lang_of(user))
}

/// Sends an HTML message to a user. `Ok(None)` when the user cannot be messaged (blocked the bot;
/// they are marked so we stop trying).
pub async fn send(
    services: &Services,
    user: &User,
    text: String,
    markup: Option<ReplyMarkup>,
) -> Result<Option<Message>, NotifyError> {
    if user.bot_blocked {
        return Ok(None);
    }
    let telegram = services.telegram()?;
    let mut request = telegram
        .bot
        .send_message(ChatId(user.id), text)
        .parse_mode(ParseMode::Html);
    if let Some(markup) = markup {
        request = request.reply_markup(markup);
    }
    match telegram.call(request).await {
        Ok(message) => Ok(Some(message)),
        Err(TelegramError::Blocked) => {
            mark_blocked(services, user.id).await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn mark_blocked(services: &Services, user_id: i64) -> Result<(), NotifyError> {
    let db = services.db()?;
    users::mark_bot_blocked(&**db.conn().await?, user_id).await?;
    Ok(())
}

/// Tells the admins (ADMIN_CHAT_ID). Best effort by design: an admin notice must never fail or repeat
/// the user's action it reports, so a failure is logged (once, with its cause) and not returned.
pub async fn admins(services: &Services, text: String) {
    let Some(chat) = services.config.admin_chat_id else {
        return;
    };
    let Ok(telegram) = services.telegram() else {
        return;
    };
    let request = telegram
        .bot
        .send_message(ChatId(chat), text)
        .parse_mode(ParseMode::Html);
    if let Err(e) = telegram.call(request).await {
        tracing::error!(error = %error_chain(&e), "admin notification not delivered");
    }
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
