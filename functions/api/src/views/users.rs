//! Users: the caller's profile (`GET /api/me`), anyone's for admins, what deleting one's data did,
//! and balances after an admin's change.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::notify::Lang;
use shared::repo::erasure;
use shared::repo::users::User;
use shared::usecases::deletion;
use utoipa::ToSchema;

use super::payments::Prices;

/// A user as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Profile {
    pub id: i64,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: Option<String>,
    pub language_code: Option<String>,
    pub tokens_left: i64,
    pub tokens_spent: i64,
    pub referral_code: String,
    pub referred_by: Option<i64>,
    /// Blocked by an admin.
    pub is_blocked: bool,
    pub activated_at: DateTime<Utc>,
}

from_row!(User => Profile {
    id, username, first_name, last_name, language_code, tokens_left, tokens_spent, referral_code,
    referred_by, is_blocked, activated_at,
});

/// A language the bot and the Mini App speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ru,
    En,
}

from_variants!(Lang => Language { Ru, En });

impl From<Language> for Lang {
    fn from(language: Language) -> Self {
        match language {
            Language::Ru => Lang::Ru,
            Language::En => Lang::En,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub profile: Profile,
    /// The language the bot and the Mini App speak to the caller: the one they chose (`PATCH
    /// /api/me`, or `/language` in the bot), else the one their Telegram's language suggests
    /// (Russian for Russian and its neighbours, English for any other).
    pub language: Language,
    /// Whether the caller chose it (else it follows Telegram's).
    pub language_chosen: bool,
    /// An owner (ADMIN_IDS) or an admin.
    pub is_admin: bool,
    /// `https://t.me/<bot>?start=<referral code>`; `null` when the bot is not reachable.
    pub referral_link: Option<String>,
    pub prices: Prices,
}

/// What [`erase_user`] removed or cleared (0 everywhere when there was nothing left to erase).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErasedRows {
    /// Training photos deleted (with their Telegram file ids and URLs).
    pub photos: i64,
    /// Models cleared: name, trained version, weights, previews; each is `canceled`.
    pub models: i64,
    /// Generations cleared: prompts, result URLs, Telegram file ids; one in progress is `canceled`.
    pub generations: i64,
    /// Ratings and comments deleted.
    pub feedback: i64,
    /// Journey events whose details were cleared (what remains: the event, its time, a status).
    pub events: i64,
    /// The profile (names, username, language) was cleared.
    pub profile: bool,
}

from_row!(erasure::ErasedRows => ErasedRows {
    photos, models, generations, feedback, events, profile,
});

/// What erasing an account did ([`erase_account`]). The Replicate counts are of what this call
/// asked Replicate for (none when an earlier erasure asked already).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountErased {
    #[serde(flatten)]
    pub rows: ErasedRows,
    /// Trainings in progress canceled at Replicate (their cost is not refunded: Replicate ran them).
    pub trainings_canceled: usize,
    /// Generations in progress to cancel at Replicate.
    pub predictions_canceled: usize,
    /// Trained versions to delete at Replicate.
    pub versions_deleted: usize,
    /// Files we uploaded to Replicate (photos, training zips) to delete there.
    pub files_deleted: usize,
    /// Tokens returned for jobs that never ran: models still queued, generations not yet started
    /// at Replicate.
    pub refunded: i64,
}

from_row!(deletion::AccountErased => AccountErased {
    rows, trainings_canceled, predictions_canceled, versions_deleted, files_deleted, refunded,
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenBalance {
    pub user_id: i64,
    pub tokens_left: i64,
    pub tokens_spent: i64,
}
