//! Meeting a user: registration (or refreshing their names) on every contact, and the journey's
//! `started` event on the first.

use serde_json::json;

use crate::db::GenericClient;
use crate::repo::events::{self, Event};
use crate::repo::users::{self, TelegramProfile, User};

use super::ServiceError;

/// Registers the user or refreshes their names; returns them and whether they are new. `source` says
/// where they came from (`bot`, `mini_app`).
pub async fn register(
    db: &impl GenericClient,
    profile: &TelegramProfile,
    source: &str,
) -> Result<(User, bool), ServiceError> {
    let (user, created) = if source == "bot" {
        users::register(db, profile).await?
    } else {
        users::register_outside_the_bot(db, profile).await?
    };
    if created {
        events::record(db, user.id, Event::Started, json!({"source": source})).await?;
    }
    Ok((user, created))
}
