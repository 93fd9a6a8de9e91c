//! Joining through a referral link (`/start <code>`, or the Mini App's `start_param`).

use crate::db::GenericClient;
use crate::repo::events::{self, Event};
use crate::repo::{referrals, users};

use super::ServiceError;

/// Records that the new user `referred_id` came through `code`. Only a user registered just now can
/// be referred (an existing user opening a link changes nothing), never by themselves, and once.
/// Returns the referrer when the invite was recorded.
pub async fn join(
    db: &impl GenericClient,
    referred_id: i64,
    is_new_user: bool,
    code: &str,
) -> Result<Option<i64>, ServiceError> {
    if !is_new_user || code.is_empty() || code.len() > 64 {
        return Ok(None);
    }
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
