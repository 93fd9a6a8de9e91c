//! Refunding a Telegram Stars payment: asked for by an admin (the bot's `/admin_refund`, the API),
//! or reported by Telegram (a `refunded_payment` message, e.g. after a refund made elsewhere).
//!
//! The tokens are taken back first, in the transaction that marks the refund pending and writes the
//! effect that asks Telegram (`refundStarPayment`), so a refund is asked for once however often the
//! admin asks, and never without its tokens taken back; Telegram refusing it for good returns the
//! tokens ([`crate::transitions::refund_refused`]).

use serde_json::json;

use crate::dispatch;
use crate::effects::{Effect, Written};
use crate::repo::admins::{self, Action, NewAction};
use crate::repo::ledger::{self, Change, LedgerError, Reason};
use crate::repo::payments::{self, Payment};
use crate::repo::users;
use crate::services::Services;
use crate::transitions::{self, refund_reference};

use super::ServiceError;

/// Payments Telegram refunds through the Bot API: Stars only.
pub const STARS: &str = "XTR";

/// Why a refund was not started; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No payment has this charge id.
    NotFound,
    /// Paid in another currency: the Bot API refunds Stars only.
    NotStars {
        currency: String,
    },
    AlreadyRefunded,
    /// A refund of it is already waiting for Telegram.
    InProgress,
    /// The user has fewer tokens than the payment bought: they were spent.
    Spent {
        balance: i64,
        tokens: i64,
    },
}

/// Where a refund stands after it was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundState {
    /// Telegram refunded it.
    Refunded,
    /// Telegram did not answer yet (it is asked again until it does).
    Pending,
    /// Telegram refused it: the tokens are back, the payment stands.
    Refused { error: String },
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub payment: Payment,
    pub tokens_taken: i64,
    pub balance: i64,
    pub state: RefundState,
}

/// An admin refunds the payment of `charge_id`. A second request (or a concurrent one) finds the
/// refund pending or done and changes nothing.
pub async fn refund(
    services: &Services,
    admin_id: i64,
    charge_id: &str,
) -> Result<Result<Refund, Refused>, ServiceError> {
    let charge_id = charge_id.trim();
    if charge_id.is_empty() {
        return Ok(Err(Refused::NotFound));
    }
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(payment) = payments::lock_by_charge(&*tx, charge_id).await? else {
        return Ok(Err(Refused::NotFound));
    };
    if payment.currency != STARS {
        return Ok(Err(Refused::NotStars {
            currency: payment.currency,
        }));
    }
    match payment.status.as_str() {
        payments::REFUNDED => return Ok(Err(Refused::AlreadyRefunded)),
        payments::REFUND_PENDING => return Ok(Err(Refused::InProgress)),
        _ => {}
    }
    let Some(attempt) = payments::start_refund(&*tx, payment.id, Some(admin_id)).await? else {
        return Ok(Err(Refused::InProgress));
    };
    if payment.tokens > 0 {
        let reference = refund_reference(&payment.telegram_charge_id, attempt);
        let change = Change {
            user_id: payment.user_id,
            delta: -payment.tokens,
            reason: Reason::PaymentRefund,
            reference: &reference,
            note: None,
        };
        match ledger::apply(&*tx, &change).await {
            Ok(_) => {}
            // Dropping the transaction undoes the pending mark: nothing changed.
            Err(LedgerError::Insufficient { available, .. }) => {
                return Ok(Err(Refused::Spent {
                    balance: available,
                    tokens: payment.tokens,
                }))
            }
            Err(e) => return Err(e.into()),
        }
    }
    admins::record(
        &*tx,
        &NewAction {
            admin_id,
            action: Action::PaymentRefund,
            target_user_id: Some(payment.user_id),
            subject: Some(&format!("payment:{}", payment.id)),
            details: json!({"charge_id": charge_id, "tokens": payment.tokens, "attempt": attempt}),
        },
    )
    .await?;
    let mut written = Written::new();
    written
        .write(
            &*tx,
            &format!("refund-payment:{charge_id}:{attempt}"),
            &Effect::RefundStarPayment {
                payment_id: payment.id,
                attempt,
            },
        )
        .await?;
    tx.commit().await?;
    drop(conn);
    dispatch::now(services, written).await;
    let conn = db.conn().await?;
    let payment = payments::get(&**conn, payment.id)
        .await?
        .ok_or(ServiceError::NotFound("payment"))?;
    let balance = users::get(&**conn, payment.user_id)
        .await?
        .map_or(0, |u| u.tokens_left);
    let state = match payment.status.as_str() {
        payments::REFUNDED => RefundState::Refunded,
        payments::REFUND_PENDING => RefundState::Pending,
        _ => RefundState::Refused {
            error: payment.refund_error.clone().unwrap_or_default(),
        },
    };
    Ok(Ok(Refund {
        tokens_taken: payment.tokens,
        payment,
        balance,
        state,
    }))
}

/// What a `refunded_payment` from Telegram changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Refunded now: `taken` tokens taken back (all the payment bought, or what was left of them).
    Refunded { taken: i64 },
    /// We had refunded it already (or it is not a payment of this user's): nothing more.
    Unchanged,
}

/// Telegram reports that the payment of `charge_id` by `user_id` was refunded. A refund we asked
/// for is confirmed; one made elsewhere takes back the payment's tokens, as many as are left (the
/// money is gone either way, and the admins are told of a shortfall). Once: a repeated report, or
/// one of a refund already done, changes nothing.
pub async fn reported(
    services: &Services,
    user_id: i64,
    charge_id: &str,
) -> Result<Reported, ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(payment) = payments::lock_by_charge(&*tx, charge_id).await? else {
        tracing::warn!(
            charge_id,
            "Telegram reported the refund of a payment we do not know"
        );
        return Ok(Reported::Unchanged);
    };
    if payment.user_id != user_id {
        tracing::warn!(
            charge_id,
            "a refund reported in another user's chat; ignored"
        );
        return Ok(Reported::Unchanged);
    }
    let ours = payment.status == payments::REFUND_PENDING;
    let taken = match payment.status.as_str() {
        payments::REFUNDED => return Ok(Reported::Unchanged),
        // Ours, confirmed before (or instead of) Telegram's answer to our call.
        payments::REFUND_PENDING => payment.tokens,
        _ => {
            let attempt = payments::start_refund(&*tx, payment.id, None)
                .await?
                .ok_or_else(|| ServiceError::Conflict("the payment changed meanwhile".into()))?;
            // Locked until the take-back: a debit committing meanwhile would leave less than was
            // read, and the take-back would be refused.
            let balance = users::get_for_update(&*tx, payment.user_id)
                .await?
                .map_or(0, |u| u.tokens_left);
            let taken = payment.tokens.min(balance);
            if taken > 0 {
                let reference = refund_reference(&payment.telegram_charge_id, attempt);
                ledger::apply(
                    &*tx,
                    &Change {
                        user_id: payment.user_id,
                        delta: -taken,
                        reason: Reason::PaymentRefund,
                        reference: &reference,
                        note: Some("refunded by Telegram"),
                    },
                )
                .await?;
            }
            taken
        }
    };
    let written = transitions::refund_done(&*tx, &payment, taken, !ours).await?;
    tx.commit().await?;
    drop(conn);
    dispatch::now(services, written).await;
    Ok(Reported::Refunded { taken })
}
