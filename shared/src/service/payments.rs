//! Buying tokens with Telegram payments: the invoice for a pack, the pre-checkout check, and the
//! credit on a successful payment, exactly once per Telegram charge id.

use crate::config::{ProductConfig, TokenPack};
use crate::notify;
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::payments::{self, NewPayment, Payment};
use crate::repo::{referrals, users};
use crate::services::Services;
use crate::texts::html;

use super::ServiceError;

/// The invoice payload of a pack (1-128 bytes): what the payment is for, checked again on payment.
pub fn invoice_payload(pack: &TokenPack) -> String {
    format!("pack:{}", pack.id)
}

/// The pack an invoice payload names, if it is one we sell (at that price and currency).
pub fn pack_for<'a>(
    product: &'a ProductConfig,
    payload: &str,
    currency: &str,
    total: i64,
) -> Option<&'a TokenPack> {
    let id = payload.strip_prefix("pack:")?;
    product
        .pack(id)
        .filter(|p| p.currency == currency && p.price == total)
}

/// Why a pre-checkout query is refused (the text goes back to the buyer through Telegram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutRefusal {
    Blocked,
    UnknownPack,
}

/// The pre-checkout decision: Telegram waits at most 10 s for it, so it is one read.
pub async fn check_checkout(
    services: &Services,
    user_id: i64,
    payload: &str,
    currency: &str,
    total: i64,
) -> Result<Result<(), CheckoutRefusal>, ServiceError> {
    if pack_for(&services.config.product, payload, currency, total).is_none() {
        return Ok(Err(CheckoutRefusal::UnknownPack));
    }
    let db = services.db()?;
    let user = users::get(&**db.conn().await?, user_id).await?;
    if user.is_some_and(|u| u.is_blocked) {
        return Ok(Err(CheckoutRefusal::Blocked));
    }
    Ok(Ok(()))
}

/// A payment Telegram confirmed.
#[derive(Debug, Clone)]
pub struct ConfirmedPayment<'a> {
    pub user_id: i64,
    pub currency: &'a str,
    pub total: i64,
    pub payload: &'a str,
    pub telegram_charge_id: &'a str,
    pub provider_charge_id: &'a str,
}

/// The result of a credited payment.
#[derive(Debug, Clone)]
pub struct Credited {
    pub payment: Payment,
    pub tokens_left: i64,
    /// The referrer paid a bonus on this (first) payment.
    pub referral_bonus_to: Option<i64>,
}

/// Records the payment and credits its tokens, once per charge id: a repeated or concurrent delivery
/// of the same payment finds it recorded and returns `None`. On the buyer's first payment their
/// referrer gets the configured bonus, once. Admins are told.
pub async fn credit(
    services: &Services,
    paid: &ConfirmedPayment<'_>,
) -> Result<Option<Credited>, ServiceError> {
    let product = &services.config.product;
    // Telegram only confirms what passed pre-checkout, but a pack may have been repriced since: the
    // buyer gets what the payload names; an unknown pack is recorded at the amount paid, 0 tokens is
    // not allowed, so it is an error for the admins to settle.
    let pack_id = paid.payload.strip_prefix("pack:").unwrap_or(paid.payload);
    let pack = product.pack(pack_id).ok_or_else(|| {
        ServiceError::Conflict(format!(
            "payment {} names an unknown pack",
            paid.telegram_charge_id
        ))
    })?;
    let db = services.db()?;
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(payment) = payments::record(
        &*tx,
        &NewPayment {
            user_id: paid.user_id,
            pack_id: &pack.id,
            amount: paid.total,
            currency: paid.currency,
            tokens: pack.tokens,
            telegram_charge_id: paid.telegram_charge_id,
            provider_charge_id: paid.provider_charge_id,
            payload: paid.payload,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    let reference = format!("payment:{}", paid.telegram_charge_id);
    let balance = ledger::apply(
        &*tx,
        &Change {
            user_id: paid.user_id,
            delta: pack.tokens,
            reason: Reason::Purchase,
            reference: &reference,
            note: None,
        },
    )
    .await?;
    let mut referral_bonus_to = None;
    if product.referral_bonus > 0 && payments::count_paid(&*tx, paid.user_id).await? == 1 {
        if let Some(referrer) =
            referrals::take_unpaid_bonus(&*tx, paid.user_id, product.referral_bonus).await?
        {
            let reference = format!("referral:{}", paid.user_id);
            ledger::apply(
                &*tx,
                &Change {
                    user_id: referrer,
                    delta: product.referral_bonus,
                    reason: Reason::ReferralBonus,
                    reference: &reference,
                    note: None,
                },
            )
            .await?;
            referral_bonus_to = Some(referrer);
        }
    }
    tx.commit().await?;
    drop(conn);

    let buyer = users::get(&**db.conn().await?, paid.user_id).await?;
    let who = buyer
        .as_ref()
        .map(|u| u.display_name())
        .unwrap_or_else(|| paid.user_id.to_string());
    notify::admins(
        services,
        notify::admin_texts().admin_payment(&html(&who), pack.tokens, paid.total, paid.currency),
    )
    .await;
    Ok(Some(Credited {
        payment,
        tokens_left: balance.tokens_left,
        referral_bonus_to,
    }))
}
