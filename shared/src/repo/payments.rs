//! Payments: a Telegram payment recorded once, keyed by its charge id.

use chrono::{DateTime, Utc};

use super::{
    execute, fetch_all, fetch_opt, fetch_value, fetch_value_opt, find_page, int8, text, DbError,
    GenericClient, Page,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: i64,
    pub user_id: i64,
    pub pack_id: String,
    /// In minor units of `currency` (kopecks, cents; stars for XTR).
    pub amount: i64,
    pub currency: String,
    pub tokens: i64,
    pub telegram_charge_id: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Refunds asked for so far (each one's ledger rows and effect are keyed by its number).
    pub refund_attempts: i32,
    pub refunded_at: Option<DateTime<Utc>>,
    /// Why Telegram refused the last refund asked for.
    pub refund_error: Option<String>,
}

const COLUMNS: &str =
    "id, user_id, pack_id, amount, currency, tokens, telegram_charge_id, status, \
     created_at, refund_attempts, refunded_at, refund_error";

from_row!(Payment, table "payments", columns COLUMNS, |row| {
    id, user_id, pack_id, amount, currency, tokens, telegram_charge_id, status, created_at,
    refund_attempts, refunded_at, refund_error,
});

/// A payment's status: paid, disputed (nothing credited), refund pending (the tokens taken back,
/// Telegram not yet confirmed), refunded.
pub const PAID: &str = "paid";
pub const DISPUTED: &str = "disputed";
pub const REFUND_PENDING: &str = "refund_pending";
pub const REFUNDED: &str = "refunded";

#[derive(Debug, Clone)]
pub struct NewPayment<'a> {
    pub user_id: i64,
    pub pack_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub tokens: i64,
    pub telegram_charge_id: &'a str,
    pub provider_charge_id: &'a str,
    pub payload: &'a str,
}

/// Records a payment. `None` when this charge id was already recorded (a repeated delivery).
pub async fn record(
    db: &impl GenericClient,
    p: &NewPayment<'_>,
) -> Result<Option<Payment>, DbError> {
    fetch_opt(
        db,
        &format!(
            "INSERT INTO payments (user_id, pack_id, amount, currency, tokens, telegram_charge_id,
                                       provider_charge_id, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (telegram_charge_id) DO NOTHING
                 RETURNING {COLUMNS}"
        ),
        &[
            int8(&p.user_id),
            text(&p.pack_id),
            int8(&p.amount),
            text(&p.currency),
            int8(&p.tokens),
            text(&p.telegram_charge_id),
            text(&p.provider_charge_id),
            text(&p.payload),
        ],
    )
    .await
}

pub async fn list_for_user(
    db: &impl GenericClient,
    user_id: i64,
    page: Page,
) -> Result<Vec<Payment>, DbError> {
    find_page(db, Some(user_id), page).await
}

pub async fn list_recent(db: &impl GenericClient, page: Page) -> Result<Vec<Payment>, DbError> {
    find_page(db, None, page).await
}

/// How many paid payments the user has (their first one pays their referrer a bonus).
pub async fn count_paid(db: &impl GenericClient, user_id: i64) -> Result<i64, DbError> {
    fetch_value(
        db,
        "SELECT count(*) AS n FROM payments WHERE user_id = $1 AND status = 'paid'",
        &[int8(&user_id)],
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revenue {
    pub currency: String,
    pub amount: i64,
    pub payments: i64,
    pub tokens: i64,
}

from_row!(Revenue, |row| { currency, amount, payments, tokens });

/// Total revenue per currency (the seed's calculate_total_revenue), paid payments only.
pub async fn revenue(db: &impl GenericClient) -> Result<Vec<Revenue>, DbError> {
    fetch_all(
        db,
        "SELECT currency, sum(amount)::int8 AS amount, count(*) AS payments, sum(tokens)::int8 AS tokens
         FROM payments WHERE status = 'paid' GROUP BY currency ORDER BY currency",
        &[],
    )
    .await
}

/// Marks a payment that does not match its invoice as disputed (it counts as no purchase).
pub async fn mark_disputed(db: &impl GenericClient, payment_id: i64) -> Result<(), DbError> {
    execute(
        db,
        "UPDATE payments SET status = 'disputed' WHERE id = $1",
        &[int8(&payment_id)],
    )
    .await
}

pub async fn get(db: &impl GenericClient, payment_id: i64) -> Result<Option<Payment>, DbError> {
    super::find(db, "id = $1", &[int8(&payment_id)]).await
}

/// The payment, locked until the caller's transaction ends.
pub async fn lock(db: &impl GenericClient, payment_id: i64) -> Result<Option<Payment>, DbError> {
    super::find(db, "id = $1 FOR UPDATE", &[int8(&payment_id)]).await
}

/// The payment of a Telegram charge id, locked until the caller's transaction ends.
pub async fn lock_by_charge(
    db: &impl GenericClient,
    charge_id: &str,
) -> Result<Option<Payment>, DbError> {
    super::find(
        db,
        "telegram_charge_id = $1 FOR UPDATE",
        &[text(&charge_id)],
    )
    .await
}

/// A paid (or disputed) payment's refund is asked for by `admin_id` (`None`: Telegram reported
/// it): pending until Telegram confirms. Returns the attempt's number, or `None` when the payment
/// is not paid or disputed.
pub async fn start_refund(
    db: &impl GenericClient,
    payment_id: i64,
    admin_id: Option<i64>,
) -> Result<Option<i32>, DbError> {
    fetch_value_opt(
        db,
        "UPDATE payments SET status = 'refund_pending', refund_from = status,
             refund_attempts = refund_attempts + 1, refund_requested_by = $2,
             refund_requested_at = now(), refund_error = NULL
         WHERE id = $1 AND status IN ('paid', 'disputed')
         RETURNING refund_attempts",
        &[int8(&payment_id), int8(&admin_id)],
    )
    .await
}

/// The payment is refunded (Telegram confirmed ours, or reported one). `false` when it already was.
pub async fn mark_refunded(db: &impl GenericClient, payment_id: i64) -> Result<bool, DbError> {
    super::changed_one(
        db,
        "UPDATE payments SET status = 'refunded', refunded_at = now()
         WHERE id = $1 AND status <> 'refunded'",
        &[int8(&payment_id)],
    )
    .await
}

/// Telegram refused refund `attempt`: the payment is back where it was, with the reason. `false`
/// when that refund is no longer pending.
pub async fn refund_refused(
    db: &impl GenericClient,
    payment_id: i64,
    attempt: i32,
    error: &str,
) -> Result<bool, DbError> {
    super::changed_one(
        db,
        "UPDATE payments SET status = COALESCE(refund_from, 'paid'), refund_error = $3
         WHERE id = $1 AND status = 'refund_pending' AND refund_attempts = $2",
        &[int8(&payment_id), super::int4(&attempt), text(&error)],
    )
    .await
}
