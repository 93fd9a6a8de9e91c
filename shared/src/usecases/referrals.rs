//! Joining through a referral link (`/start <code>`, or the Mini App's `start_param`).

use crate::db::GenericClient;
use crate::repo::events::{self, Event};
use crate::repo::referrals;
use crate::repo::users::{self, User};

use super::ServiceError;

/// How long after registering a user still counts as new (to a referral link, to the admins' "new
/// user" notice): the update or request that registered them may fail after the registration and
/// come again.
const JUST_REGISTERED_MINUTES: i64 = 10;

/// Whether `user` is new: registered by this update (`created`) or moments before it (see
/// [`JUST_REGISTERED_MINUTES`]).
pub fn just_registered(user: &User, created: bool) -> bool {
    created
        || chrono::Utc::now() - user.activated_at
            < chrono::Duration::minutes(JUST_REGISTERED_MINUTES)
}

/// Records that the new user `referred` came through `code`. Only a user registered just now
/// (`created`, or moments ago) can be referred (an existing user opening a link changes nothing),
/// never by themselves, and once. Returns the referrer when the invite was recorded.
pub async fn join(
    db: &impl GenericClient,
    referred: &User,
    created: bool,
    code: &str,
) -> Result<Option<i64>, ServiceError> {
    if !just_registered(referred, created)
        || referred.referred_by.is_some()
        || code.is_empty()
        || code.len() > 64
    {
        return Ok(None);
    }
    let referred_id = referred.id;
    let Some(referrer) = users::find_by_referral_code(db, code).await? else {
        return Ok(None);
    };
    if referrer.id == referred_id {
        return Ok(None);
    }
    if !referrals::record_invite(db, referrer.id, referred_id).await? {
        return Ok(None);
    }
    events::record(
        db,
        referred_id,
        Event::ReferralJoined,
        serde_json::json!({"referrer_id": referrer.id}),
    )
    .await?;
    Ok(Some(referrer.id))
}
