//! Payments: a Telegram payment recorded once, keyed by its charge id.

use chrono::{DateTime, Utc};

use super::{
    execute, fetch_all, fetch_opt, fetch_value, find_page, int8, text, DbError, GenericClient, Page,
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
}

const COLUMNS: &str =
    "id, user_id, pack_id, amount, currency, tokens, telegram_charge_id, status, created_at";

from_row!(Payment, table "payments", columns COLUMNS, |row| {
    id, user_id, pack_id, amount, currency, tokens, telegram_charge_id, status, created_at,
});

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
