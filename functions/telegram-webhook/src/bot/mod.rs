//! The bot: routes an update to what the user asked for, with all state in Postgres.

mod keyboards;

use shared::db::DbError;
use shared::repo::users::{self, TelegramProfile, User};
use shared::telegram::{Telegram, TelegramError};
use shared::texts::{html, texts, Lang, Texts};
use teloxide_core::payloads::SendMessageSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, Message, ParseMode, ReplyMarkup, UpdateKind};

use crate::State;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    #[error(transparent)]
    Unavailable(#[from] shared::services::Unavailable),
}

impl shared::once::Transient for BotError {
    fn is_transient(&self) -> bool {
        match self {
            BotError::Db(_) | BotError::Unavailable(_) => true,
            BotError::Telegram(e) => e.is_transient(),
        }
    }
}

/// One update's context: who, in which language, and how to answer.
pub struct Ctx<'a> {
    pub state: &'a State,
    pub telegram: &'a Telegram,
    pub user: User,
    pub lang: Lang,
    pub chat_id: i64,
}

impl Ctx<'_> {
    pub fn t(&self) -> &'static dyn Texts {
        texts(self.lang)
    }

    /// Sends an HTML message to the user. A user who blocked the bot is marked, not an error.
    pub async fn reply(
        &self,
        text: String,
        markup: Option<ReplyMarkup>,
    ) -> Result<Option<Message>, BotError> {
        let mut request = self
            .telegram
            .bot
            .send_message(ChatId(self.chat_id), text)
            .parse_mode(ParseMode::Html);
        if let Some(markup) = markup {
            request = request.reply_markup(markup);
        }
        match self.telegram.call(request).await {
            Ok(message) => Ok(Some(message)),
            Err(TelegramError::Blocked) => {
                let db = self.state.services.db()?;
                users::mark_bot_blocked(&**db.conn().await?, self.user.id).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

pub fn profile_of(user: &teloxide_core::types::User) -> TelegramProfile {
    TelegramProfile {
        id: user.id.0 as i64,
        username: user.username.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        language_code: user.language_code.clone(),
    }
}

/// Handles one update (already claimed as ours).
pub async fn handle(state: &State, update: teloxide_core::types::Update) -> Result<(), BotError> {
    let telegram = state.services.telegram()?;
    match update.kind {
        UpdateKind::Message(message) => {
            let Some(from) = message.from.as_ref().filter(|u| !u.is_bot) else {
                return Ok(());
            };
            if !message.chat.is_private() {
                return Ok(()); // the bot works in private chats only
            }
            tracing::Span::current().record("user_id", from.id.0);
            let db = state.services.db()?;
            let (user, _created) = users::register(&**db.conn().await?, &profile_of(from)).await?;
            let ctx = Ctx {
                state,
                telegram,
                lang: Lang::from_code(user.language_code.as_deref()),
                chat_id: message.chat.id.0,
                user,
            };
            on_message(&ctx, &message).await
        }
        _ => Ok(()),
    }
}

async fn on_message(ctx: &Ctx<'_>, message: &Message) -> Result<(), BotError> {
    if ctx.user.is_blocked {
        ctx.reply(ctx.t().blocked(), None).await?;
        return Ok(());
    }
    let text = message.text().unwrap_or_default().trim();
    let (command, _argument) = split_command(text);
    match command {
        Some("start") => {
            let welcome = ctx.t().welcome(&html(&ctx.user.first_name));
            ctx.reply(welcome, Some(keyboards::main_menu(ctx.t())))
                .await?;
        }
        Some("help") => {
            ctx.reply(ctx.t().help(), Some(keyboards::main_menu(ctx.t())))
                .await?;
        }
        _ => {
            ctx.reply(ctx.t().unknown_command(), None).await?;
        }
    }
    Ok(())
}

/// `/cmd@bot arg` -> (`cmd`, `arg`); plain text -> (None, text).
pub fn split_command(text: &str) -> (Option<&str>, &str) {
    let Some(rest) = text.strip_prefix('/') else {
        return (None, text);
    };
    let (head, argument) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let command = head.split('@').next().unwrap_or(head);
    (Some(command), argument.trim())
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn commands_split_from_their_argument() {
        assert_eq!(split_command("/start abc"), (Some("start"), "abc"));
        assert_eq!(split_command("/help@dream_bot"), (Some("help"), ""));
        assert_eq!(split_command("hello"), (None, "hello"));
    }
}
