//! Registering the bot with Telegram: the webhook (with its secret token and the update types the bot
//! handles) and the command menus. `dream-photo set-webhook` and the deploy's custom resource
//! (`deploy-hooks`) both call these, so the two never drift apart.

use shared::telegram::{Telegram, TelegramError};
use teloxide_core::payloads::{SetMyCommandsSetters, SetWebhookSetters};
use teloxide_core::requests::Requester;
use teloxide_core::types::AllowedUpdate;

use crate::bot::{commands, Lang};

/// At most this many connections Telegram opens to the webhook at once.
pub const MAX_CONNECTIONS: u8 = 40;

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

/// setWebhook with the secret token, then the command menus: Russian by default, English for
/// English-speaking users.
pub async fn register(
    telegram: &Telegram,
    url: url::Url,
    secret_token: &str,
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
    Ok(())
}

/// deleteWebhook: Telegram stops delivering (updates wait for getUpdates or a new webhook).
pub async fn unregister(telegram: &Telegram) -> Result<(), TelegramError> {
    telegram.call(telegram.bot.delete_webhook()).await?;
    Ok(())
}
