//! The referral program (`GET /api/referrals`).

use serde::Serialize;
use shared::repo::referrals;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Referrals {
    /// The caller's referral code (the `start` / `startapp` parameter of their link).
    pub code: String,
    /// `https://t.me/<bot>?start=<code>`; `null` when the bot is not reachable.
    pub link: Option<String>,
    /// Tokens earned per invited user's first payment.
    pub bonus_tokens_per_referral: i64,
    pub stats: ReferralStats,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReferralStats {
    /// People who joined through the user's link.
    pub joined: i64,
    /// Of them, those who paid (and earned the user a bonus).
    pub paid: i64,
    pub bonus_tokens: i64,
}

from_row!(referrals::ReferralStats => ReferralStats { joined, paid, bonus_tokens });
