//! Buying tokens with Telegram payments: the invoice for a pack, the pre-checkout check, and the
//! credit on a successful payment, exactly once per Telegram charge id.

use crate::config::TokenPack;
use crate::dispatch;
use crate::effects::{AdminNotice, Effect, Notice, Written};
use crate::metrics;
use crate::repo::events::{self, Event};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::payments::{self, NewPayment, Payment};
use crate::repo::{promos, referrals, users};
use crate::services::Services;

use super::ServiceError;

/// The invoice payload (1-128 bytes): what the payment is for, checked again at pre-checkout, and
/// what it is credited as should the pack stop being sold before the payment arrives:
/// `pack:<id>:<tokens>:<price>`, with `:d<redemption>` when a promo discount lowered the price.
fn invoice_payload(pack: &TokenPack, price: i64, redemption: Option<i64>) -> String {
    let mut payload = format!("pack:{}:{}:{price}", pack.id, pack.tokens);
    if let Some(id) = redemption {
        payload.push_str(&format!(":d{id}"));
    }
    payload
}

/// What an invoice for a pack looks like for this user: the price after their pending promo discount,
/// and the payload naming it all.
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
    let db = services.db();
    let discount = promos::pending_discount(&**db.conn().await?, user_id).await?;
    Ok(match discount {
        Some(d) => {
            let price = super::promo::discounted(&pack, d.percent);
            InvoicePlan {
                price,
                discount_percent: Some(d.percent),
                payload: invoice_payload(&pack, price, Some(d.redemption_id)),
                pack,
            }
        }
        None => InvoicePlan {
            price: pack.price,
            discount_percent: None,
            payload: invoice_payload(&pack, pack.price, None),
            pack,
        },
    })
}

/// What an invoice payload says it sold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sold<'a> {
    pack_id: &'a str,
    /// Tokens and price as invoiced (absent in invoices made before payloads carried them).
    tokens: Option<i64>,
    price: Option<i64>,
    redemption: Option<i64>,
}

/// `pack:<id>:<tokens>:<price>[:d<redemption>]`, or the older `pack:<id>[:d<redemption>]`.
fn parse_payload(payload: &str) -> Option<Sold<'_>> {
    let mut parts = payload.strip_prefix("pack:")?.split(':');
    let pack_id = parts.next().filter(|id| !id.is_empty())?;
    let mut sold = Sold {
        pack_id,
        tokens: None,
        price: None,
        redemption: None,
    };
    let rest: Vec<&str> = parts.collect();
    let (amounts, discount) = match rest.as_slice() {
        [] => (None, None),
        [d] => (None, Some(*d)),
        [tokens, price] => (Some((*tokens, *price)), None),
        [tokens, price, d] => (Some((*tokens, *price)), Some(*d)),
        _ => return None,
    };
    if let Some((tokens, price)) = amounts {
        sold.tokens = Some(tokens.parse().ok().filter(|t: &i64| *t > 0)?);
        sold.price = Some(price.parse().ok().filter(|p: &i64| *p > 0)?);
    }
    if let Some(d) = discount {
        sold.redemption = Some(d.strip_prefix('d')?.parse().ok()?);
    }
    Some(sold)
}

/// The price the user must pay for `payload`, if it names a pack we sell (and a discount of theirs
/// that is still unused).
async fn expected_price<'a>(
    services: &'a Services,
    db: &impl crate::db::GenericClient,
    user_id: i64,
    payload: &str,
) -> Result<Option<(&'a TokenPack, i64, Option<i64>)>, ServiceError> {
    let Some(sold) = parse_payload(payload) else {
        return Ok(None);
    };
    let Some(pack) = services.config.product.pack(sold.pack_id) else {
        return Ok(None);
    };
    if sold.tokens.is_some_and(|t| t != pack.tokens) {
        // The pack was changed since the invoice: it no longer sells what the buyer saw.
        return Ok(None);
    }
    let price = match sold.redemption {
        None => Some((pack, pack.price, None)),
        Some(id) => promos::discount_of(db, id, user_id)
            .await?
            .map(|percent| (pack, super::promo::discounted(pack, percent), Some(id))),
    };
    Ok(price.filter(|(_, expected, _)| sold.price.is_none_or(|invoiced| invoiced == *expected)))
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
    let db = services.db();
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
/// referrer gets the configured bonus, once. The buyer, the referrer and the admins are told (through
/// the effect log, written with the credit).
///
/// Money Telegram took is always recorded: a payment for a pack no longer sold is credited as its
/// invoice said, and one whose invoice did not say is recorded with nothing credited; either way the
/// admins are told.
pub async fn credit(
    services: &Services,
    paid: &ConfirmedPayment<'_>,
) -> Result<Option<Credited>, ServiceError> {
    let product = &services.config.product;
    let sold = parse_payload(paid.payload);
    let pack_id = sold.as_ref().map_or("?", |s| s.pack_id);
    let pack = product.pack(pack_id);
    let tokens = sold
        .as_ref()
        .and_then(|s| s.tokens)
        .or(pack.map(|p| p.tokens))
        .unwrap_or(0);
    let redemption = sold.as_ref().and_then(|s| s.redemption);
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    // `Some(None)`: the invoice used a discount that is spent (another payment took it meanwhile).
    let discount = match redemption {
        Some(id) => Some(promos::lock_unspent_discount(&*tx, id, paid.user_id).await?),
        None => None,
    };
    let invoiced_total = sold.as_ref().and_then(|s| s.price).or_else(|| {
        pack.map(|p| match discount {
            Some(Some(percent)) => super::promo::discounted(p, percent),
            _ => p.price,
        })
    });
    let dispute = if paid.currency != product.currency {
        Some(format!(
            "paid in {}, the invoice was in {}",
            paid.currency, product.currency
        ))
    } else if invoiced_total.is_some_and(|total| total != paid.total) {
        Some(format!(
            "paid {}, the invoice asked {}",
            paid.total,
            invoiced_total.unwrap_or_default()
        ))
    } else if matches!(discount, Some(None)) {
        Some("the discount it used was already spent".to_owned())
    } else {
        None
    };
    let tokens = if dispute.is_some() { 0 } else { tokens };
    let Some(payment) = payments::record(
        &*tx,
        &NewPayment {
            user_id: paid.user_id,
            pack_id,
            amount: paid.total,
            currency: paid.currency,
            tokens,
            telegram_charge_id: paid.telegram_charge_id,
            provider_charge_id: paid.provider_charge_id,
            payload: paid.payload,
        },
    )
    .await?
    else {
        return Ok(None);
    };
    if let Some(reason) = dispute {
        tracing::error!(payment_id = payment.id, reason = %reason, "a payment does not match its invoice");
        payments::mark_disputed(&*tx, payment.id).await?;
        let mut written = Written::new();
        written
            .tell_user_and_admins(
                &*tx,
                &format!("payment:{}", paid.telegram_charge_id),
                paid.user_id,
                Notice::PaymentDisputed {
                    payment_id: payment.id,
                },
                AdminNotice::PaymentDisputed {
                    user_id: paid.user_id,
                    payment_id: payment.id,
                    amount: paid.total,
                    currency: paid.currency.to_owned(),
                    reason,
                },
            )
            .await?;
        let balance = users::get(&*tx, paid.user_id)
            .await?
            .map_or(0, |u| u.tokens_left);
        tx.commit().await?;
        drop(conn);
        metrics::payment(paid.currency, paid.total);
        dispatch::now(services, written).await;
        return Ok(Some(Credited {
            payment,
            tokens_left: balance,
            referral_bonus_to: None,
        }));
    }
    if let Some(redemption) = redemption {
        // The discount this payment used is spent (a repeat of the same discount cannot pass
        // pre-checkout again).
        promos::apply_to_payment(&*tx, redemption, payment.id).await?;
    }
    let balance = if tokens > 0 {
        let reference = format!("payment:{}", paid.telegram_charge_id);
        ledger::apply(
            &*tx,
            &Change {
                user_id: paid.user_id,
                delta: tokens,
                reason: Reason::Purchase,
                reference: &reference,
                note: None,
            },
        )
        .await?
        .tokens_left
    } else {
        users::get(&*tx, paid.user_id)
            .await?
            .map_or(0, |u| u.tokens_left)
    };
    events::record(
        &*tx,
        paid.user_id,
        Event::Payment,
        serde_json::json!({"payment_id": payment.id, "pack": pack_id, "amount": paid.total, "currency": paid.currency}),
    )
    .await?;
    let mut written = Written::new();
    let key = format!("payment:{}", paid.telegram_charge_id);
    if tokens > 0 {
        written
            .write(
                &*tx,
                &key,
                &Effect::Notify {
                    user_id: paid.user_id,
                    notice: Notice::PaymentReceived { tokens, balance },
                },
            )
            .await?;
    }
    let notice = match pack {
        Some(_) => AdminNotice::Payment {
            user_id: paid.user_id,
            tokens,
            amount: paid.total,
            currency: paid.currency.to_owned(),
        },
        None => {
            tracing::error!(pack_id, tokens, "a payment for a pack we no longer sell");
            AdminNotice::PaymentForUnknownPack {
                user_id: paid.user_id,
                payment_id: payment.id,
                pack_id: pack_id.to_owned(),
                tokens,
                amount: paid.total,
                currency: paid.currency.to_owned(),
            }
        }
    };
    written
        .write(
            &*tx,
            &format!("admins:{key}"),
            &Effect::TellAdmins { notice },
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
            written
                .write(
                    &*tx,
                    &reference,
                    &Effect::Notify {
                        user_id: referrer,
                        notice: Notice::ReferralBonus {
                            tokens: product.referral_bonus,
                        },
                    },
                )
                .await?;
            referral_bonus_to = Some(referrer);
        }
    }
    tx.commit().await?;
    drop(conn);
    metrics::payment(paid.currency, paid.total);
    dispatch::now(services, written).await;
    Ok(Some(Credited {
        payment,
        tokens_left: balance,
        referral_bonus_to,
    }))
}
