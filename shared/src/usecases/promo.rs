//! Promo codes: admins create and change them; a user redeems one (a token code credits through the
//! ledger at once, a discount code lowers the price of their next pack).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::config::TokenPack;
use crate::repo::admins::{self, Action, NewAction};
use crate::repo::events::{self, Event};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::promos::{self, PromoCode, Terms};
use crate::repo::rate_limits::{self, Decision, Limit};
use crate::services::Services;

use super::ServiceError;

/// Why a code cannot be redeemed, said to the person. A code that is switched off or not valid yet
/// is "unknown" too: guessing must not tell which codes exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Expired,
    Exhausted,
    AlreadyUsed,
    /// Too many attempts lately (each attempt counts, a wrong guess included): try again in
    /// `retry_after` seconds.
    TooManyAttempts {
        retry_after: i64,
    },
}

/// Redemption attempts per user: enough for anyone with real codes, far too few to guess one.
pub const ATTEMPTS: Limit = Limit {
    action: "promo",
    max: 10,
    window_seconds: 600,
};

/// What a redemption gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    Tokens { tokens: i64, balance: i64 },
    Discount { percent: i32 },
}

/// Codes are case-insensitive for users: stored and compared upper-case.
pub fn normalize(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// Redeems a code for a user. The code's row is locked while it is checked and counted, so
/// concurrent redemptions never exceed its max usages; a user redeems a code once.
pub async fn redeem(
    services: &Services,
    user_id: i64,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Result<Redeemed, Refusal>, ServiceError> {
    let code = normalize(code);
    let db = services.db();
    let mut conn = db.conn().await?;
    if let Decision::Limited { retry_after } = rate_limits::hit(&**conn, user_id, &ATTEMPTS).await?
    {
        tracing::info!(user_id, retry_after, "promo attempts rate limited");
        return Ok(Err(Refusal::TooManyAttempts { retry_after }));
    }
    let tx = conn.transaction().await?;
    let Some(promo) = promos::get_for_update(&*tx, &code).await? else {
        return Ok(Err(Refusal::Unknown));
    };
    if let Err(refusal) = check(&promo, now) {
        return Ok(Err(refusal));
    }
    let Some(redemption_id) = promos::redeem(&*tx, promo.id, user_id).await? else {
        return Ok(Err(Refusal::AlreadyUsed));
    };
    let redeemed = match (promo.tokens, promo.discount_percent) {
        (Some(tokens), _) => {
            let reference = format!("promo:{redemption_id}");
            let balance = ledger::apply(
                &*tx,
                &Change {
                    user_id,
                    delta: tokens,
                    reason: Reason::Promo,
                    reference: &reference,
                    note: Some(&promo.code),
                },
            )
            .await?;
            Redeemed::Tokens {
                tokens,
                balance: balance.tokens_left,
            }
        }
        (None, Some(percent)) => Redeemed::Discount { percent },
        (None, None) => {
            unreachable!("a CHECK constraint makes every code a token or a discount code")
        }
    };
    events::record(
        &*tx,
        user_id,
        Event::PromoUsed,
        json!({"code": promo.code, "redemption_id": redemption_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(redeemed))
}

fn check(promo: &PromoCode, now: DateTime<Utc>) -> Result<(), Refusal> {
    if !promo.is_active || promo.valid_from.is_some_and(|from| now < from) {
        return Err(Refusal::Unknown);
    }
    if promo.valid_until.is_some_and(|until| now >= until) {
        return Err(Refusal::Expired);
    }
    if promo.max_uses.is_some_and(|max| promo.used_count >= max) {
        return Err(Refusal::Exhausted);
    }
    Ok(())
}

/// A pack's price with a discount: rounded down, never below one minor unit.
pub fn discounted(pack: &TokenPack, percent: i32) -> i64 {
    (pack.price * i64::from(100 - percent) / 100).max(1)
}

/// Creates a code (admin), written to the audit log in the same transaction.
pub async fn create(
    services: &Services,
    admin_id: i64,
    code: &str,
    terms: &Terms,
) -> Result<PromoCode, ServiceError> {
    let code = normalize(code);
    let valid_code = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let valid_terms = match (terms.tokens, terms.discount_percent) {
        (Some(t), None) => t > 0,
        (None, Some(p)) => (1..=99).contains(&p),
        _ => false,
    } && terms.max_uses.is_none_or(|m| m > 0)
        && match (terms.valid_from, terms.valid_until) {
            (Some(from), Some(until)) => from < until,
            _ => true,
        };
    if !valid_code || !valid_terms {
        return Err(ServiceError::Conflict(
            "a code is 3-32 letters, digits, _ or -, and gives either tokens (> 0) or a discount (1-99%)".into(),
        ));
    }
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let promo = promos::create(&*tx, &code, terms, admin_id)
        .await?
        .ok_or_else(|| ServiceError::Conflict(format!("the code {code} exists")))?;
    admins::record(
        &*tx,
        &NewAction {
            admin_id,
            action: Action::PromoAdd,
            target_user_id: None,
            subject: Some(&format!("promo:{code}")),
            details: json!({"tokens": terms.tokens, "discount_percent": terms.discount_percent,
                            "max_uses": terms.max_uses, "valid_until": terms.valid_until}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(promo)
}

/// Changes a code's end date, max usages or active flag (admin), audited.
pub async fn change(
    services: &Services,
    admin_id: i64,
    code: &str,
    valid_until: Option<Option<DateTime<Utc>>>,
    max_uses: Option<Option<i32>>,
    is_active: Option<bool>,
) -> Result<PromoCode, ServiceError> {
    let code = normalize(code);
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let promo = promos::update(&*tx, &code, valid_until, max_uses, is_active)
        .await
        .map_err(|e| match e.sql_state() {
            Some("23514") => {
                ServiceError::Conflict("max uses cannot be below the uses so far".into())
            }
            _ => e.into(),
        })?
        .ok_or(ServiceError::NotFound("promo code"))?;
    admins::record(
        &*tx,
        &NewAction {
            admin_id,
            action: Action::PromoChange,
            target_user_id: None,
            subject: Some(&format!("promo:{code}")),
            details: json!({"valid_until": valid_until, "max_uses": max_uses, "is_active": is_active}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(promo)
}
