//! Meeting a user: registration on the first contact (with the journey's `started` event), and
//! refreshing their names when Telegram shows them changed. Meeting a known user as they are writes
//! nothing.

use serde_json::json;

use crate::db::GenericClient;
use crate::dispatch;
use crate::domain::lang::Lang;
use crate::effects::{refresh_commands_key, Effect, Written};
use crate::repo::events::{self, Event};
use crate::repo::users::{self, TelegramProfile, User};
use crate::services::Services;

use super::ServiceError;

/// Where we met a user: in the bot (which also says the bot may write to them) or in the Mini App.
pub const FROM_THE_BOT: &str = "bot";
pub const FROM_THE_MINI_APP: &str = "mini_app";

/// Whether `known` already holds what `profile` says, as met from `source`: the same names, the same
/// language (a profile without one keeps ours), and, in the bot, no "blocked the bot" mark to clear.
pub fn is_current(known: &User, profile: &TelegramProfile, source: &str) -> bool {
    known.username == profile.username
        && known.first_name == profile.first_name
        && known.last_name == profile.last_name
        && (profile.language_code.is_none() || known.language_code == profile.language_code)
        && !(source == FROM_THE_BOT && known.bot_blocked)
}

/// Meets a user: `known` as loaded when it is current (nothing written), else registered or
/// refreshed. Returns them and whether they are new.
pub async fn meet(
    db: &impl GenericClient,
    profile: &TelegramProfile,
    source: &str,
    known: Option<User>,
) -> Result<(User, bool), ServiceError> {
    match known {
        Some(user) if is_current(&user, profile, source) => Ok((user, false)),
        _ => register(db, profile, source).await,
    }
}

/// Registers the user or refreshes their names; returns them and whether they are new. `source` says
/// where they came from ([`FROM_THE_BOT`], [`FROM_THE_MINI_APP`]).
pub async fn register(
    db: &impl GenericClient,
    profile: &TelegramProfile,
    source: &str,
) -> Result<(User, bool), ServiceError> {
    let (user, created) = if source == FROM_THE_BOT {
        users::register(db, profile).await?
    } else {
        users::register_outside_the_bot(db, profile).await?
    };
    if created {
        events::record(db, user.id, Event::Started, json!({"source": source})).await?;
    }
    Ok((user, created))
}

/// Remembers the language the user chose (the bot and the Mini App speak it from now on); their own
/// command menu follows it, through the effect log.
pub async fn set_language(
    services: &Services,
    user_id: i64,
    lang: Lang,
) -> Result<User, ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let user = users::set_language(&*tx, user_id, lang)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let mut written = Written::new();
    let cause = format!("language:{}", chrono::Utc::now().timestamp_micros());
    written
        .write(
            &*tx,
            &refresh_commands_key(user_id, &cause),
            &Effect::RefreshCommands { user_id },
        )
        .await?;
    tx.commit().await?;
    // The effect takes a connection of its own (a Lambda's pool has one).
    drop(conn);
    dispatch::now(services, written).await;
    Ok(user)
}
