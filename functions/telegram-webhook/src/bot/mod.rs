//! The bot: routes each update to what the user asked for. All state is in Postgres: the user row
//! (with the dialogue state), their models, generations and payments.

mod admin;
pub mod chart;
pub mod commands;
mod context;
mod dialog;
mod generate;
mod keyboards;
mod payments;
pub mod texts;
mod training;

use shared::db::DbError;
use shared::dispatch;
use shared::domain::callbacks::Callback;
use shared::effects::{AdminNotice, Effect, Notice, Written};
use shared::errors::Transient;
use shared::repo::generations;
use shared::repo::users::{self, TelegramProfile, User};
use shared::repo::{models, referrals, Page};
use shared::telegram::{Telegram, TelegramError};
use shared::usecases::{self, ServiceError};
use teloxide_core::payloads::{AnswerCallbackQuerySetters, SendMessageSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    CallbackQuery, ChatId, InlineKeyboardMarkup, Message, ParseMode, ReplyMarkup, UpdateKind,
};
use teloxide_core::{ApiError, RequestError};

pub use commands::Command;
pub use context::Ctx;
pub use dialog::Dialog;
pub use texts::{html, texts, Lang, Texts};

use crate::State;

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    #[error(transparent)]
    Unavailable(#[from] shared::services::Unavailable),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Notify(#[from] shared::notify::NotifyError),
    #[error("a photo could not be downloaded for its check")]
    Download(#[from] shared::telegram::DownloadError),
}

impl From<tokio_postgres::Error> for BotError {
    fn from(e: tokio_postgres::Error) -> Self {
        BotError::Db(e.into())
    }
}

impl Transient for BotError {
    fn is_transient(&self) -> bool {
        match self {
            BotError::Db(e) => e.is_transient(),
            BotError::Unavailable(e) => e.is_transient(),
            BotError::Telegram(e) => e.is_transient(),
            BotError::Service(e) => e.is_transient(),
            BotError::Notify(e) => e.is_transient(),
            BotError::Download(e) => e.is_transient(),
        }
    }
}

/// A message Telegram sends for us when we return it as the webhook's response body ("Making
/// requests when getting updates"): the update's last reply, when nothing needs its result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebhookReply {
    method: &'static str,
    chat_id: i64,
    text: String,
    parse_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_markup: Option<ReplyMarkup>,
}

impl WebhookReply {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Sends it through the Bot API instead (long polling has no webhook response).
    pub async fn send(self, telegram: &Telegram) -> Result<(), TelegramError> {
        let mut request = telegram
            .bot
            .send_message(ChatId(self.chat_id), self.text)
            .parse_mode(ParseMode::Html);
        if let Some(markup) = self.reply_markup {
            request = request.reply_markup(markup);
        }
        telegram.call(request).await.map(|_| ())
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

/// Who sent the update, when it is someone the bot talks to: a person in a private chat (a
/// message) or pressing one of our buttons (a callback query).
pub fn sender(update: &teloxide_core::types::Update) -> Option<&teloxide_core::types::User> {
    match &update.kind {
        UpdateKind::Message(message) if message.chat.is_private() => {
            message.from.as_ref().filter(|u| !u.is_bot)
        }
        UpdateKind::CallbackQuery(query) => Some(&query.from),
        _ => None,
    }
}

/// What an admin must know of a payment whose update could not be handled: who paid, how much, and
/// Telegram's charge id (to refund or credit it by hand).
pub fn payment_of(update: &teloxide_core::types::Update) -> Option<shared::effects::AdminNotice> {
    let UpdateKind::Message(message) = &update.kind else {
        return None;
    };
    let payment = message.successful_payment()?;
    Some(shared::effects::AdminNotice::PaymentNotRecorded {
        user_id: message.chat.id.0,
        charge_id: payment.telegram_payment_charge_id.0.clone(),
        amount: i64::from(payment.total_amount),
        currency: payment.currency.clone(),
    })
}

/// How an update was handled: the final reply for the webhook response, and whether anything else
/// happened.
#[derive(Debug, Default)]
pub struct Handling {
    pub reply: Option<WebhookReply>,
    /// The handling reached for the database or the Bot API beyond the final reply. When it did not,
    /// handling the update again changes nothing, and until Telegram has the webhook's response the
    /// reply is not delivered: such an update need not be, and should not be, recorded as done.
    pub acted: bool,
}

/// Handles one update (already claimed as ours) from its [`sender`], registered (with whether they
/// are new).
pub async fn handle(
    state: &State,
    update: teloxide_core::types::Update,
    sender: Option<(User, bool)>,
) -> Result<Handling, BotError> {
    let telegram = state.services.telegram()?;
    let context = |user: User| Ctx::new(state, telegram, user);
    let finished = Ctx::finish;
    match (update.kind, sender) {
        (UpdateKind::Message(message), Some((user, created))) => {
            let ctx = context(user);
            on_message(&ctx, created, &message).await?;
            Ok(finished(ctx))
        }
        (UpdateKind::CallbackQuery(query), Some((user, _))) => {
            let ctx = context(user);
            on_callback(&ctx, &query).await?;
            Ok(finished(ctx))
        }
        (UpdateKind::PreCheckoutQuery(query), _) => {
            payments::pre_checkout(state, telegram, &query).await?;
            Ok(Handling {
                reply: None,
                acted: true,
            })
        }
        // Groups, channels, other bots, and update kinds we did not ask for.
        _ => Ok(Handling::default()),
    }
}

async fn on_message(ctx: &Ctx<'_>, created: bool, message: &Message) -> Result<(), BotError> {
    let t = ctx.t();
    // A payment is money Telegram already took: credited even if the user was blocked since.
    if let Some(payment) = message.successful_payment() {
        return payments::successful(ctx, payment).await;
    }
    // So is a refund Telegram reports: the tokens go back with the money.
    if let teloxide_core::types::MessageKind::RefundedPayment(refunded) = &message.kind {
        return payments::refunded(ctx, &refunded.refunded_payment).await;
    }
    if ctx.user.is_blocked {
        let text = t.blocked_contact(&support_contact(ctx));
        return ctx.finish_with(text, None);
    }
    if message.photo().is_some() || message.document().is_some() {
        return training::on_photo(ctx, message).await;
    }
    let text = message.text().unwrap_or_default().trim();
    let (typed, argument) = split_command(text);
    let command = match typed {
        Some(name) => match Command::parse(name) {
            Some(command) => command,
            None => return ctx.finish_with(t.unknown_command, None),
        },
        None => match keyboards::menu_command(t, text) {
            Some(command) => command,
            None => return on_text(ctx, text).await,
        },
    };
    match command {
        Command::Start => start(ctx, created, argument).await,
        Command::Language => {
            ctx.finish_with(t.language_choose, Some(keyboards::languages().into()))
        }
        Command::Help => {
            ctx.set_dialog(&Dialog::Idle).await?;
            ctx.finish_with(commands::help(ctx.lang), Some(keyboards::main_menu(t)))
        }
        Command::Cancel => {
            ctx.set_dialog(&Dialog::Idle).await?;
            ctx.finish_with(t.cancelled, Some(keyboards::main_menu(t)))
        }
        Command::PaySupport => ctx.finish_with(t.pay_support(&support_contact(ctx)), None),
        Command::Terms => {
            let product = &ctx.config().product;
            let text = t.terms(
                &support_contact(ctx),
                shared::domain::rules::training_cost(product),
                product.generation_cost,
            );
            ctx.finish_with(&text, None)
        }
        Command::Balance => {
            ctx.finish_with(t.balance(ctx.user.tokens_left, ctx.user.tokens_spent), None)
        }
        Command::Models => list_models(ctx).await,
        Command::History => history(ctx).await,
        Command::Referral => referral(ctx).await,
        Command::Train => training::start(ctx).await,
        Command::Buy => payments::offer(ctx).await,
        Command::Promo => payments::redeem_promo(ctx, argument).await,
        Command::DeleteMe => {
            ctx.set_dialog(&Dialog::Idle).await?;
            let markup = keyboards::inline(vec![
                vec![(
                    t.button_erase_confirm.to_owned(),
                    Callback::EraseMe { confirm: true },
                )],
                vec![(
                    t.button_erase_cancel.to_owned(),
                    Callback::EraseMe { confirm: false },
                )],
            ]);
            ctx.finish_with(t.erase_explain, Some(markup.into()))
        }
        admin_command if admin_command.is_admin() => match ctx.role().await? {
            Some(role) => admin::command(ctx, role, admin_command, argument).await,
            None => ctx.finish_with(t.unknown_command, None),
        },
        _ => ctx.finish_with(t.unknown_command, None),
    }
}

/// A message that is not a command: the answer to what the dialogue asked.
async fn on_text(ctx: &Ctx<'_>, text: &str) -> Result<(), BotError> {
    match ctx.dialog() {
        Dialog::AwaitingModelName => training::on_name(ctx, text).await,
        Dialog::AwaitingPrompt { model_id, style_id } => {
            generate::on_prompt(ctx, model_id, style_id, text).await
        }
        Dialog::AwaitingFeedbackComment { generation_id } => {
            generate::on_comment(ctx, generation_id, text).await
        }
        _ => ctx.finish_with(ctx.t().unknown_command, None),
    }
}

async fn start(ctx: &Ctx<'_>, created: bool, payload: &str) -> Result<(), BotError> {
    let t = ctx.t();
    ctx.set_dialog(&Dialog::Idle).await?;
    // The messages below go to other chats, so the last message here can still be the webhook's
    // response: the welcome, or the Mini App's offer after it (a message has one keyboard: the
    // welcome brings the menu, the offer the button that opens the app).
    let welcome = t.welcome(&html(&ctx.user.first_name));
    match &ctx.config().mini_app_url {
        Some(url) => {
            ctx.reply(welcome, Some(keyboards::main_menu(t))).await?;
            let markup = InlineKeyboardMarkup::new(vec![keyboards::mini_app_row(t, url)]);
            ctx.finish_with(t.mini_app_offer, Some(markup.into()))?;
        }
        None => ctx.finish_with(welcome, Some(keyboards::main_menu(t)))?,
    }
    // Nobody to tell of a known user's /start without a referral code (joining needs one). One
    // registered moments ago is new still: the /start that registered them may come again.
    let new = usecases::referrals::just_registered(&ctx.user, created);
    if !new && payload.is_empty() {
        return Ok(());
    }
    let services = ctx.services();
    let db = services.db();
    let referrer =
        usecases::referrals::join(&**db.conn().await?, &ctx.user, created, payload).await?;
    // The referrer and the admins are told through the effect log: once, and retried if Telegram
    // fails now.
    let mut written = Written::new();
    {
        let conn = db.conn().await?;
        if let Some(referrer_id) = referrer {
            written
                .write(
                    &**conn,
                    &format!("referral-joined:{}", ctx.user.id),
                    &Effect::Notify {
                        user_id: referrer_id,
                        notice: Notice::ReferralJoined {
                            friend: ctx.user.first_name.clone(),
                        },
                    },
                )
                .await?;
        }
        if new {
            written
                .write(
                    &**conn,
                    &format!("new-user:{}", ctx.user.id),
                    &Effect::TellAdmins {
                        notice: AdminNotice::NewUser {
                            user_id: ctx.user.id,
                            referred: referrer.is_some(),
                        },
                    },
                )
                .await?;
        }
    }
    dispatch::now(services, written).await;
    Ok(())
}

async fn list_models(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let conn = db.conn().await?;
    let own = models::list_for_user(&**conn, ctx.user.id, Page::first(20)).await?;
    let system = models::list_system(&**conn).await?;
    drop(conn);
    let mini_app = ctx.services().config.mini_app_url.as_ref();
    if own.is_empty() && system.is_empty() {
        let markup = mini_app
            .map(|url| InlineKeyboardMarkup::new(vec![keyboards::mini_app_row(t, url)]).into());
        return ctx.finish_with(t.models_empty, markup);
    }
    let mut text = if own.is_empty() {
        t.models_empty
    } else {
        t.models_header
    }
    .to_owned();
    for model in &own {
        text.push('\n');
        text.push_str(&t.model_line(
            &html(&model.name),
            t.status_label(model.status),
            model.photo_count,
        ));
    }
    for model in &system {
        text.push('\n');
        text.push_str(&format!(
            "• {} — {}",
            html(&model.name),
            t.system_model_label
        ));
    }
    let mut ready: Vec<_> = own
        .iter()
        .filter(|m| m.status == shared::domain::status::ModelStatus::Ready)
        .chain(system.iter())
        .map(|m| {
            vec![(
                t.button_generate_with(&m.name),
                Callback::Generate { model_id: m.id },
            )]
        })
        .collect();
    // Offering a model to everyone shows its owner's face: only with their say-so, which they give
    // and take back here.
    ready.extend(
        own.iter()
            .filter(|m| m.status == shared::domain::status::ModelStatus::Ready)
            .map(|m| {
                let shared = m.shared_consent_at.is_some();
                let label = if shared {
                    t.button_unshare(&m.name)
                } else {
                    t.button_share(&m.name)
                };
                vec![(
                    label,
                    Callback::Share {
                        model_id: m.id,
                        consent: !shared,
                    },
                )]
            }),
    );
    ready.extend(
        own.iter()
            .filter(|m| m.status == shared::domain::status::ModelStatus::Ready)
            .map(|m| {
                vec![(
                    t.button_retrain(&m.name),
                    Callback::Retrain { model_id: m.id },
                )]
            }),
    );
    let mut markup = keyboards::inline(ready);
    if let Some(url) = mini_app {
        markup = markup.append_row(keyboards::mini_app_row(t, url));
    }
    let markup = (!markup.inline_keyboard.is_empty()).then(|| markup.into());
    ctx.finish_with(text, markup)
}

async fn history(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let list =
        generations::list_for_user(&**db.conn().await?, ctx.user.id, Page::first(10)).await?;
    if list.is_empty() {
        return ctx.finish_with(t.history_empty, None);
    }
    let mut text = t.history_header.to_owned();
    for g in &list {
        let prompt: String = g.prompt.chars().take(60).collect();
        text.push('\n');
        text.push_str(&t.history_line(
            &g.created_at.format("%d.%m %H:%M").to_string(),
            &html(&prompt),
            t.generation_status_label(g.status),
            g.num_images,
        ));
    }
    ctx.finish_with(text, None)
}

async fn referral(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let stats = referrals::statistics(&**db.conn().await?, ctx.user.id).await?;
    let link = ctx.telegram().start_link(&ctx.user.referral_code).await?;
    let bonus = ctx.config().product.referral_bonus;
    ctx.finish_with(
        t.referral(&link, stats.joined, stats.paid, stats.bonus_tokens, bonus),
        None,
    )
}

async fn on_callback(ctx: &Ctx<'_>, query: &CallbackQuery) -> Result<(), BotError> {
    let t = ctx.t();
    let answer = async |text: Option<String>| {
        let mut request = ctx.telegram().bot.answer_callback_query(query.id.clone());
        if let Some(text) = text {
            request = request.text(text);
        }
        match ctx.telegram().call(request).await {
            // A press handled late (redelivered, or queued while we were down) can no longer be
            // answered; its spinner is gone already, and the press is still carried out.
            Err(TelegramError::Request(RequestError::Api(ApiError::InvalidQueryId))) => Ok(()),
            answered => answered.map(|_| ()),
        }
    };
    if ctx.user.is_blocked {
        answer(Some(t.blocked.to_owned())).await?;
        return Ok(());
    }
    let Some(callback) = query.data.as_deref().and_then(Callback::parse) else {
        answer(Some(t.outdated_button.to_owned())).await?;
        return Ok(());
    };
    // Stop the button's spinner first: Telegram shows it until the query is answered.
    answer(None).await?;
    match callback {
        Callback::StartTraining { model_id } => training::submit(ctx, model_id).await,
        Callback::Draft { model_id, resume } => training::on_draft(ctx, model_id, resume).await,
        Callback::Generate { model_id } => generate::begin(ctx, model_id).await,
        Callback::Retrain { model_id } => training::on_retrain(ctx, model_id).await,
        Callback::Share { model_id, consent } => {
            match usecases::sharing::set_consent(ctx.services(), ctx.user.id, model_id, consent)
                .await
            {
                Ok(()) | Err(ServiceError::NotFound(_)) => list_models(ctx).await,
                Err(e) => Err(e.into()),
            }
        }
        Callback::EraseMe { confirm: false } => ctx.finish_with(t.erase_kept, None),
        Callback::Language { lang } => {
            usecases::users::set_language(ctx.services(), ctx.user.id, lang).await?;
            // Said in the new language, with the main menu's buttons in it too.
            let t = texts(lang);
            ctx.finish_with(t.language_set, Some(keyboards::main_menu(t)))
        }
        Callback::EraseMe { confirm: true } => {
            usecases::deletion::erase_account(ctx.services(), ctx.user.id).await?;
            // The balance as the ledger has it now (a queued model's cost may have come back).
            let db = ctx.services().db();
            let balance = users::get(&**db.conn().await?, ctx.user.id)
                .await?
                .map_or(ctx.user.tokens_left, |u| u.tokens_left);
            ctx.finish_with(t.erase_done(balance), None)
        }
        Callback::Style { style_id } => generate::on_style(ctx, style_id).await,
        Callback::StylePage { tag, page } => generate::style_page(ctx, tag.as_deref(), page).await,
        Callback::Rate {
            generation_id,
            rating,
        } => generate::on_rating(ctx, generation_id, rating).await,
        Callback::Again {
            generation_id,
            aspect_ratio,
        } => generate::on_again(ctx, generation_id, aspect_ratio).await,
        Callback::FreeRedo { generation_id } => generate::on_free_redo(ctx, generation_id).await,
        Callback::Preset { index } => generate::on_preset(ctx, index).await,
        Callback::Count { images, prompt } => generate::on_count(ctx, images, prompt).await,
        Callback::Packs => payments::offer(ctx).await,
        Callback::Buy { pack_id } => payments::send_invoice(ctx, &pack_id).await,
        Callback::AdminBlock { .. }
        | Callback::AdminTokens { .. }
        | Callback::AdminStyle { .. } => {
            if ctx.role().await?.is_some() {
                admin::callback(ctx, callback, &query.id.0).await
            } else {
                ctx.finish_with(t.unknown_command, None)
            }
        }
    }
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

/// Whom to write to, as HTML: `SUPPORT_CONTACT` (an `@username` as it is, a link or an e-mail
/// address linked), else a link to the first owner's chat.
fn support_contact(ctx: &Ctx<'_>) -> String {
    let config = ctx.config();
    let t = ctx.t();
    match config.support_contact.as_deref() {
        Some(contact) if contact.starts_with("https://") || contact.starts_with("tg://") => {
            let href = html(contact).replace('"', "&quot;");
            format!("<a href=\"{href}\">{}</a>", html(contact))
        }
        Some(contact) if contact.contains('@') && !contact.starts_with('@') => {
            format!("<a href=\"mailto:{0}\">{0}</a>", html(contact))
        }
        Some(contact) => html(contact),
        None => match config.admin_ids.first() {
            Some(owner) => format!("<a href=\"tg://user?id={owner}\">{}</a>", t.support_link),
            None => t.no_support_contact.to_owned(),
        },
    }
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
