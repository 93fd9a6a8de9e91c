//! One update's context, in a module of its own so that no handler reaches the database or the Bot
//! API around it: whatever it hands out counts as the handling having acted ([`Handling::acted`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use shared::notify;
use shared::repo::users::{self, User};
use shared::telegram::{Telegram, TelegramError};
use shared::usecases::{self, ServiceError};
use teloxide_core::payloads::{EditMessageTextSetters, SendMessageSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    ChatId, InlineKeyboardMarkup, Message, MessageId, ParseMode, ReplyMarkup,
};

use super::{keyboards, texts, BotError, Dialog, Handling, Lang, Texts, WebhookReply};
use crate::State;

/// One update's context: who, in which language, and how to answer.
pub struct Ctx<'a> {
    state: &'a State,
    telegram: &'a Telegram,
    pub user: User,
    pub lang: Lang,
    /// The dialogue state as of this update's last write (the user row holds it as loaded).
    dialog: Mutex<Dialog>,
    final_reply: Mutex<Option<WebhookReply>>,
    /// Whether the handling reached for the database or the Bot API (beyond the final reply), so it
    /// may have changed something: see [`Handling::acted`].
    acted: AtomicBool,
}

impl Ctx<'_> {
    pub fn t(&self) -> &'static Texts {
        texts(self.lang)
    }

    /// The update's last message to the user, returned in the webhook response rather than sent
    /// (saves a Bot API call). Only for a reply nothing else follows and whose result nobody needs.
    pub fn finish_with(
        &self,
        text: impl Into<String>,
        markup: Option<ReplyMarkup>,
    ) -> Result<(), BotError> {
        let reply = WebhookReply {
            method: "sendMessage",
            chat_id: self.user.id,
            text: text.into(),
            parse_mode: "HTML",
            reply_markup: markup,
        };
        let previous = self.final_reply.lock().expect("final reply").replace(reply);
        debug_assert!(previous.is_none(), "one final reply per update");
        Ok(())
    }

    fn take_final_reply(&self) -> Option<WebhookReply> {
        self.final_reply.lock().expect("final reply").take()
    }

    /// The function's parts, to read or change something: the handling counts as having acted.
    pub fn services(&self) -> &shared::services::Services {
        self.acted.store(true, Ordering::Relaxed);
        &self.state.services
    }

    /// The Bot API client, to call it beyond the final reply: the handling counts as having acted.
    pub fn telegram(&self) -> &Telegram {
        self.acted.store(true, Ordering::Relaxed);
        self.telegram
    }

    /// The configuration (reading it changes nothing).
    pub fn config(&self) -> &shared::config::Config {
        &self.state.services.config
    }

    /// The user's admin role (owner from ADMIN_IDS, or an admin an owner added), if any.
    pub async fn role(&self) -> Result<Option<usecases::admin::Role>, BotError> {
        if self.config().is_admin(self.user.id) {
            return Ok(Some(usecases::admin::Role::Owner));
        }
        let db = self.services().db();
        Ok(usecases::admin::role(self.services(), &**db.conn().await?, self.user.id).await?)
    }

    /// Sends an HTML message to the user. A user who blocked the bot is marked, not an error.
    pub async fn reply(
        &self,
        text: impl Into<String>,
        markup: Option<ReplyMarkup>,
    ) -> Result<Option<Message>, BotError> {
        match self.send_text(text.into(), markup).await {
            Err(TelegramError::Blocked) => {
                notify::mark_blocked(self.services(), self.user.id).await?;
                Ok(None)
            }
            other => Ok(Some(other?)),
        }
    }

    /// Like [`Ctx::reply`] inside a transaction: a blocked user is marked through `db`, so a Lambda's
    /// single pooled connection is never needed twice.
    pub async fn reply_within(
        &self,
        db: &impl shared::db::GenericClient,
        text: String,
        markup: Option<ReplyMarkup>,
    ) -> Result<Option<Message>, BotError> {
        match self.send_text(text, markup).await {
            Err(TelegramError::Blocked) => {
                users::mark_bot_blocked(db, self.user.id).await?;
                Ok(None)
            }
            other => Ok(Some(other?)),
        }
    }

    async fn send_text(
        &self,
        text: String,
        markup: Option<ReplyMarkup>,
    ) -> Result<Message, TelegramError> {
        let mut request = self
            .telegram()
            .bot
            .send_message(ChatId(self.user.id), text)
            .parse_mode(ParseMode::Html);
        if let Some(markup) = markup {
            request = request.reply_markup(markup);
        }
        self.telegram().call(request).await
    }

    /// Edits one of our messages in the user's chat ("not modified" is fine; a blocked user is
    /// skipped: the next message to them marks it). `false` when it is gone (the person deleted it)
    /// or can no longer be edited, so the caller can post a new one.
    pub async fn edit(
        &self,
        message_id: i64,
        text: String,
        markup: Option<InlineKeyboardMarkup>,
    ) -> Result<bool, BotError> {
        let mut request = self
            .telegram()
            .bot
            .edit_message_text(ChatId(self.user.id), MessageId(message_id as i32), text)
            .parse_mode(ParseMode::Html);
        if let Some(markup) = markup {
            request = request.reply_markup(markup);
        }
        use teloxide_core::{ApiError, RequestError};
        match self.telegram().call(request).await {
            Ok(_) | Err(TelegramError::Blocked) => Ok(true),
            Err(TelegramError::Request(RequestError::Api(ApiError::MessageNotModified))) => {
                Ok(true)
            }
            Err(TelegramError::Request(RequestError::Api(
                ApiError::MessageToEditNotFound | ApiError::MessageCantBeEdited,
            ))) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn set_dialog(&self, dialog: &Dialog) -> Result<(), BotError> {
        if self.dialog() == *dialog {
            return Ok(()); // already so: spare the round trip
        }
        let db = self.services().db();
        users::set_dialog(&**db.conn().await?, self.user.id, &dialog.to_json()).await?;
        *self.dialog.lock().expect("dialog") = dialog.clone();
        Ok(())
    }

    /// Leaves the dialogue step `expected` for `next`, unless another delivery already left it
    /// (then `false`: that one does the step's work).
    pub async fn take_dialog(&self, expected: &Dialog, next: &Dialog) -> Result<bool, BotError> {
        let db = self.services().db();
        let taken = users::replace_dialog(
            &**db.conn().await?,
            self.user.id,
            &expected.to_json(),
            &next.to_json(),
        )
        .await?;
        if taken {
            *self.dialog.lock().expect("dialog") = next.clone();
        }
        Ok(taken)
    }

    pub fn dialog(&self) -> Dialog {
        self.dialog.lock().expect("dialog").clone()
    }

    /// Words for a use case that did not happen (the errors a person can act on); other errors
    /// propagate (and a transient one makes Telegram deliver the update again).
    pub async fn explain(&self, error: ServiceError) -> Result<(), BotError> {
        use shared::domain::rules::{RuleError, MAX_PROMPT_CHARS, MIN_PHOTOS};
        let t = self.t();
        let text = match &error {
            ServiceError::InsufficientTokens {
                available,
                required,
            } => {
                let markup = keyboards::buy_button(t);
                self.reply(t.not_enough_tokens(*available, *required), Some(markup))
                    .await?;
                return Ok(());
            }
            ServiceError::Rule(RuleError::PhotoCount(count)) => {
                t.too_few_photos(*count, MIN_PHOTOS)
            }
            ServiceError::Rule(RuleError::Prompt) => t.bad_prompt(MAX_PROMPT_CHARS),
            ServiceError::Rule(RuleError::ModelNotReady) => t.model_not_ready.to_owned(),
            ServiceError::Rule(RuleError::PromptRefused) => t.prompt_refused.to_owned(),
            ServiceError::Rule(RuleError::ModelName) => t.train_bad_name.to_owned(),
            ServiceError::Rule(RuleError::NotAnImage) => t.photo_not_image.to_owned(),
            ServiceError::Rule(RuleError::PhotoTooLarge) => t.photo_too_large.to_owned(),
            ServiceError::Rule(RuleError::FreeRedoUsed) => t.free_redo_used.to_owned(),
            ServiceError::NotFound("style") => t.style_gone.to_owned(),
            // The failed generation's notice (failed, tokens returned) has told them already.
            ServiceError::Upstream(_) | ServiceError::Rule(RuleError::PromptUnsafe) => {
                return Ok(())
            }
            ServiceError::NotFound(_) | ServiceError::Conflict(_) | ServiceError::Rule(_) => {
                t.outdated_button.to_owned()
            }
            ServiceError::Unavailable(_) => t.try_later.to_owned(),
            _ => return Err(error.into()),
        };
        self.reply(text, None).await?;
        Ok(())
    }
}

impl<'a> Ctx<'a> {
    pub(super) fn new(state: &'a State, telegram: &'a Telegram, user: User) -> Self {
        Ctx {
            state,
            telegram,
            lang: notify::lang_of(&user),
            dialog: Mutex::new(Dialog::from_json(&user.dialog)),
            user,
            final_reply: Mutex::new(None),
            acted: AtomicBool::new(false),
        }
    }

    /// What the handling left: its final reply, and whether it acted.
    pub(super) fn finish(self) -> Handling {
        Handling {
            reply: self.take_final_reply(),
            acted: self.acted.into_inner(),
        }
    }
}
