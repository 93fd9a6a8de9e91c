//! Promo codes: what redeeming one gave (`POST /api/promo`), and the codes as admins manage them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::repo::promos;
use shared::usecases::promo::Redeemed;
use utoipa::ToSchema;

/// What a redeemed code gave: tokens at once, or a discount on the next pack.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Redemption {
    Tokens { tokens: i64, balance: i64 },
    Discount { percent: i32 },
}

impl From<Redeemed> for Redemption {
    fn from(r: Redeemed) -> Self {
        match r {
            Redeemed::Tokens { tokens, balance } => Self::Tokens { tokens, balance },
            Redeemed::Discount { percent } => Self::Discount { percent },
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PromoCode {
    pub id: i64,
    pub code: String,
    pub tokens: Option<i64>,
    pub discount_percent: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
    pub used_count: i32,
    pub is_active: bool,
}

from_row!(promos::PromoCode => PromoCode {
    id, code, tokens, discount_percent, valid_from, valid_until, max_uses, used_count, is_active,
});
