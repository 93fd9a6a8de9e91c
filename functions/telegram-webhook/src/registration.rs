//! Registering the bot with Telegram: the webhook (with its secret token and the update types the bot
//! handles), the command menus (everyone's per language, and each admin's own in their chat), and,
//! with `MINI_APP_URL` set, the menu button that opens the Mini App. `dream-photo set-webhook` and the
//! deploy's custom resource (`deploy-hooks`) both call these, so the two never drift apart.

use shared::config::Config;
use shared::db::{DbError, GenericClient};
use shared::repo::{admins, users};
use shared::telegram::{Telegram, TelegramError};
use teloxide_core::payloads::{SetChatMenuButtonSetters, SetMyCommandsSetters, SetWebhookSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    AllowedUpdate, BotCommandScope, ChatId, MenuButton, Recipient, WebAppInfo,
};

use crate::bot::commands::{self, MenuRole};
use crate::bot::Lang;

/// At most this many connections Telegram opens to the webhook at once.
pub const MAX_CONNECTIONS: u8 = 40;

/// The menu button's label when it opens the Mini App (one for every language: it is the bot's).
pub const MINI_APP_BUTTON: &str = "Dream Photo";

/// The update types the bot handles (pre_checkout_query must be listed to be delivered).
pub fn allowed_updates() -> Vec<AllowedUpdate> {
    vec![
        AllowedUpdate::Message,
        AllowedUpdate::CallbackQuery,
        AllowedUpdate::PreCheckoutQuery,
    ]
}

/// `<base>/telegram/webhook`, which must be https (Telegram delivers webhooks over TLS only).
pub fn webhook_url(base: &str) -> Result<url::Url, String> {
    let url: url::Url = format!("{}/telegram/webhook", base.trim_end_matches('/'))
        .parse()
        .map_err(|_| format!("{base} is not a URL"))?;
    if url.scheme() != "https" {
        return Err(format!(
            "{base} must be https: Telegram only delivers webhooks over TLS"
        ));
    }
    Ok(url)
}

/// An admin's chat and the menu it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminChat {
    pub user_id: i64,
    pub role: MenuRole,
    pub lang: Lang,
}

/// The owners (ADMIN_IDS), in the default language: what is known without a database.
pub fn owner_chats(config: &Config) -> Vec<AdminChat> {
    config
        .admin_ids
        .iter()
        .map(|&user_id| AdminChat {
            user_id,
            role: MenuRole::Owner,
            lang: Lang::of(None, None),
        })
        .collect()
}

/// The owners (ADMIN_IDS) and the admins they added, each in their language (the default one
/// before they used the bot).
pub async fn admin_chats(
    config: &Config,
    db: &impl GenericClient,
) -> Result<Vec<AdminChat>, DbError> {
    let mut chats: Vec<(i64, MenuRole)> = config
        .admin_ids
        .iter()
        .map(|&id| (id, MenuRole::Owner))
        .collect();
    for admin in admins::list(db).await? {
        if !config.is_admin(admin.user_id) {
            chats.push((admin.user_id, MenuRole::Admin));
        }
    }
    let mut found = Vec::with_capacity(chats.len());
    for (user_id, role) in chats {
        let lang = users::get(db, user_id)
            .await?
            .map_or(Lang::of(None, None), |u| u.lang());
        found.push(AdminChat {
            user_id,
            role,
            lang,
        });
    }
    Ok(found)
}

/// setWebhook with the secret token; the command menus: Russian by default, English for
/// English-speaking users, and each of `admin_chats` its own; and the menu button to the Mini App
/// when there is one (without it, the menu button is left as it is).
pub async fn register(
    telegram: &Telegram,
    url: url::Url,
    secret_token: &str,
    mini_app_url: Option<&url::Url>,
    admin_chats: &[AdminChat],
) -> Result<(), TelegramError> {
    let request = telegram
        .bot
        .set_webhook(url)
        .secret_token(secret_token.to_owned())
        .allowed_updates(allowed_updates())
        .max_connections(MAX_CONNECTIONS);
    telegram.call(request).await?;
    telegram
        .call(telegram.bot.set_my_commands(commands::menu(Lang::Ru)))
        .await?;
    telegram
        .call(
            telegram
                .bot
                .set_my_commands(commands::menu(Lang::En))
                .language_code("en"),
        )
        .await?;
    for chat in admin_chats {
        let request = telegram
            .bot
            .set_my_commands(commands::role_menu(chat.lang, chat.role))
            .scope(BotCommandScope::Chat {
                chat_id: Recipient::Id(ChatId(chat.user_id)),
            });
        match telegram.call(request).await {
            // An owner who never started the bot has no chat with it yet: nothing to set.
            Ok(_) | Err(TelegramError::Blocked) => {}
            Err(TelegramError::Request(teloxide_core::RequestError::Api(
                teloxide_core::ApiError::ChatNotFound,
            ))) => {
                tracing::info!(user_id = chat.user_id, "no chat with this admin yet");
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(mini_app) = mini_app_url {
        let request = telegram
            .bot
            .set_chat_menu_button()
            .menu_button(MenuButton::WebApp {
                text: MINI_APP_BUTTON.to_owned(),
                web_app: WebAppInfo {
                    url: mini_app.clone(),
                },
            });
        telegram.call(request).await?;
    }
    Ok(())
}

/// deleteWebhook: Telegram stops delivering (updates wait for getUpdates or a new webhook).
pub async fn unregister(telegram: &Telegram) -> Result<(), TelegramError> {
    telegram.call(telegram.bot.delete_webhook()).await?;
    Ok(())
}
