//! The referral program: who invited whom, and the bonus on the invitee's first payment.

use super::{fetch_one, fetch_value_opt, int8, returns_row, DbError, GenericClient};

/// Records that `referrer_id` invited `referred_id`. False if the invitee was already invited
/// (by anyone) or is the referrer.
pub async fn record_invite(
    db: &impl GenericClient,
    referrer_id: i64,
    referred_id: i64,
) -> Result<bool, DbError> {
    if referrer_id == referred_id {
        return Ok(false);
    }
    returns_row(
        db,
        "WITH invite AS (
                INSERT INTO referral_invites (referrer_id, referred_id) VALUES ($1, $2)
                ON CONFLICT (referred_id) DO NOTHING
                RETURNING referred_id
             )
             UPDATE users SET referred_by = $1 FROM invite WHERE users.id = invite.referred_id
             RETURNING users.id",
        &[int8(&referrer_id), int8(&referred_id)],
    )
    .await
}

/// The invite of `referred_id` whose bonus is still unpaid, marked paid with `bonus_tokens`.
/// Returns the referrer to credit, or `None` if there is no unpaid invite.
pub async fn take_unpaid_bonus(
    db: &impl GenericClient,
    referred_id: i64,
    bonus_tokens: i64,
) -> Result<Option<i64>, DbError> {
    fetch_value_opt(
        db,
        "UPDATE referral_invites SET bonus_tokens = $2, bonus_paid_at = now()
             WHERE referred_id = $1 AND bonus_paid_at IS NULL
             RETURNING referrer_id",
        &[int8(&referred_id), int8(&bonus_tokens)],
    )
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferralStats {
    /// People who joined through the user's link.
    pub joined: i64,
    /// Of them, those who paid (and earned the user a bonus).
    pub paid: i64,
    pub bonus_tokens: i64,
}

from_row!(ReferralStats, |row| { joined, paid, bonus_tokens: row.get("bonus") });

pub async fn statistics(
    db: &impl GenericClient,
    referrer_id: i64,
) -> Result<ReferralStats, DbError> {
    fetch_one(
        db,
        "SELECT count(*) AS joined, count(bonus_paid_at) AS paid, COALESCE(sum(bonus_tokens), 0)::int8 AS bonus
         FROM referral_invites WHERE referrer_id = $1",
        &[int8(&referrer_id)],
    )
    .await
}
