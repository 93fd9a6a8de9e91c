//! Buying tokens with Telegram payments: the invoice for a pack, the pre-checkout check, and the
//! credit on a successful payment, exactly once per Telegram charge id.

use crate::config::TokenPack;
use crate::notify;
use crate::repo::events::{self, Event};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::payments::{self, NewPayment, Payment};
use crate::repo::{promos, referrals, users};
use crate::services::Services;
use crate::texts::html;

use super::ServiceError;

/// The invoice payload of a pack (1-128 bytes): what the payment is for, checked again on payment.
pub fn invoice_payload(pack: &TokenPack) -> String {
    format!("pack:{}", pack.id)
}

/// What an invoice for a pack looks like for this user: the price after their pending promo discount,
/// and the payload naming both (`pack:<id>` or `pack:<id>:d<redemption>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePlan {
    pub pack: TokenPack,
    pub price: i64,
    pub discount_percent: Option<i32>,
    pub payload: String,
}

pub async fn plan_invoice(
    services: &Services,
    user_id: i64,
    pack_id: &str,
) -> Result<InvoicePlan, ServiceError> {
    let pack = services
        .config
        .product
        .pack(pack_id)
        .cloned()
        .ok_or(ServiceError::NotFound("pack"))?;
    let db = services.db()?;
    let discount = promos::pending_discount(&**db.conn().await?, user_id).await?;
    Ok(match discount {
        Some(d) => InvoicePlan {
            price: super::promo::discounted(&pack, d.percent),
            discount_percent: Some(d.percent),
            payload: format!("{}:d{}", invoice_payload(&pack), d.redemption_id),
            pack,
        },
        None => InvoicePlan {
            price: pack.price,
            discount_percent: None,
            payload: invoice_payload(&pack),
            pack,
        },
    })
}

/// `pack:<id>[:d<redemption>]` -> (pack id, redemption id).
fn parse_payload(payload: &str) -> Option<(&str, Option<i64>)> {
    let rest = payload.strip_prefix("pack:")?;
    match rest.split_once(":d") {
        Some((pack, redemption)) => Some((pack, Some(redemption.parse().ok()?))),
        None => Some((rest, None)),
    }
}

/// The price the user must pay for `payload`, if it names a pack we sell (and a discount of theirs
/// that is still unused).
async fn expected_price<'a>(
    services: &'a Services,
    db: &impl crate::db::GenericClient,
    user_id: i64,
    payload: &str,
) -> Result<Option<(&'a TokenPack, i64, Option<i64>)>, ServiceError> {
    let Some((pack_id, redemption)) = parse_payload(payload) else {
        return Ok(None);
    };
    let Some(pack) = services.config.product.pack(pack_id) else {
        return Ok(None);
    };
    match redemption {
        None => Ok(Some((pack, pack.price, None))),
        Some(id) => Ok(promos::discount_of(db, id, user_id)
            .await?
            .map(|percent| (pack, super::promo::discounted(pack, percent), Some(id)))),
    }
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
    let db = services.db()?;
    let conn = db.conn().await?;
    let matches = expected_price(services, &**conn, user_id, payload)
        .await?
        .is_some_and(|(pack, price, _)| pack.currency == currency && price == total);
    if !matches {
        return Ok(Err(CheckoutRefusal::UnknownPack));
    }
    let user = users::get(&**conn, user_id).await?;
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
    // Telegram only confirms what passed pre-checkout, so the payload names a pack we sell; should
    // the packs have been reconfigured in between, the payment is an error for the admins to settle.
    let (pack_id, redemption) = parse_payload(paid.payload).ok_or_else(|| {
        ServiceError::Conflict(format!(
            "payment {} has an unknown payload",
            paid.telegram_charge_id
        ))
    })?;
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
    if let Some(redemption) = redemption {
        // The discount this payment used is spent (a repeat of the same discount cannot pass
        // pre-checkout again).
        promos::apply_to_payment(&*tx, redemption, payment.id).await?;
    }
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
    events::record(
        &*tx,
        paid.user_id,
        Event::Payment,
        serde_json::json!({"payment_id": payment.id, "pack": pack.id, "amount": paid.total, "currency": paid.currency}),
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
