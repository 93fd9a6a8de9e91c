//! Promo codes: a token amount, or a discount percent on the next pack; valid from/to, max usages
//! overall, once per user.

use chrono::{DateTime, Utc};

use super::{
    boolean, changed_one, fetch_all, fetch_opt, fetch_value_opt, find, int4, int8, text,
    timestamptz, DbError, GenericClient,
};

#[derive(Debug, Clone, PartialEq, Eq)]
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

const COLUMNS: &str =
    "id, code, tokens, discount_percent, valid_from, valid_until, max_uses, used_count, is_active";

from_row!(PromoCode, table "promo_codes", columns COLUMNS, |row| {
    id, code, tokens, discount_percent, valid_from, valid_until, max_uses, used_count, is_active,
});

/// A code's terms, for creating or editing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    pub tokens: Option<i64>,
    pub discount_percent: Option<i32>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub max_uses: Option<i32>,
}

/// Creates a code, or `None` if it exists.
pub async fn create(
    db: &impl GenericClient,
    code: &str,
    terms: &Terms,
    created_by: i64,
) -> Result<Option<PromoCode>, DbError> {
    let sql = format!(
        "INSERT INTO promo_codes (code, tokens, discount_percent, valid_from, valid_until, max_uses, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO NOTHING RETURNING {COLUMNS}"
    );
    fetch_opt(
        db,
        &sql,
        &[
            text(&code),
            int8(&terms.tokens),
            int4(&terms.discount_percent),
            timestamptz(&terms.valid_from),
            timestamptz(&terms.valid_until),
            int4(&terms.max_uses),
            int8(&created_by),
        ],
    )
    .await
}

/// Changes the validity window, max usages and active flag of a code (its kind and value stay).
pub async fn update(
    db: &impl GenericClient,
    code: &str,
    valid_until: Option<Option<DateTime<Utc>>>,
    max_uses: Option<Option<i32>>,
    is_active: Option<bool>,
) -> Result<Option<PromoCode>, DbError> {
    fetch_opt(
        db,
        &format!(
            "UPDATE promo_codes SET
                    valid_until = CASE WHEN $2 THEN $3 ELSE valid_until END,
                    max_uses = CASE WHEN $4 THEN $5 ELSE max_uses END,
                    is_active = COALESCE($6, is_active),
                    updated_at = now()
                 WHERE code = $1 RETURNING {COLUMNS}"
        ),
        &[
            text(&code),
            boolean(&valid_until.is_some()),
            timestamptz(&valid_until.flatten()),
            boolean(&max_uses.is_some()),
            int4(&max_uses.flatten()),
            boolean(&is_active),
        ],
    )
    .await
}

pub async fn list(db: &impl GenericClient) -> Result<Vec<PromoCode>, DbError> {
    fetch_all(
        db,
        &format!("SELECT {COLUMNS} FROM promo_codes ORDER BY id DESC"),
        &[],
    )
    .await
}

/// The code, locked until the transaction ends (serialises concurrent redemptions of it).
pub async fn get_for_update(
    db: &impl GenericClient,
    code: &str,
) -> Result<Option<PromoCode>, DbError> {
    find(db, "code = $1 FOR UPDATE", &[text(&code)]).await
}

/// Records a user's redemption and counts the use; `None` if the user already redeemed this code.
pub async fn redeem(
    db: &impl GenericClient,
    promo_id: i64,
    user_id: i64,
) -> Result<Option<i64>, DbError> {
    fetch_value_opt(
        db,
        "WITH redemption AS (
                INSERT INTO promo_redemptions (promo_id, user_id) VALUES ($1, $2)
                ON CONFLICT (promo_id, user_id) DO NOTHING RETURNING id
             ), counted AS (
                UPDATE promo_codes SET used_count = used_count + 1, updated_at = now()
                WHERE id = $1 AND EXISTS (SELECT 1 FROM redemption)
             )
             SELECT id FROM redemption",
        &[int8(&promo_id), int8(&user_id)],
    )
    .await
}

/// A discount the user redeemed and has not used on a payment yet (the latest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingDiscount {
    pub redemption_id: i64,
    pub percent: i32,
}

from_row!(PendingDiscount, |row| {
    redemption_id: row.get("id"),
    percent: row.get("discount_percent"),
});

/// The discount of redemption `$1` if it is user `$2`'s and not yet spent on a payment.
const UNSPENT_DISCOUNT: &str = "SELECT p.discount_percent
     FROM promo_redemptions r JOIN promo_codes p ON p.id = r.promo_id
     WHERE r.id = $1 AND r.user_id = $2 AND r.payment_id IS NULL";

pub async fn pending_discount(
    db: &impl GenericClient,
    user_id: i64,
) -> Result<Option<PendingDiscount>, DbError> {
    fetch_opt(
        db,
        "SELECT r.id, p.discount_percent FROM promo_redemptions r JOIN promo_codes p ON p.id = r.promo_id
         WHERE r.user_id = $1 AND r.payment_id IS NULL AND p.discount_percent IS NOT NULL
         ORDER BY r.id DESC LIMIT 1",
        &[int8(&user_id)],
    )
    .await
}

/// The discount of one redemption, if it belongs to the user and is still pending.
pub async fn discount_of(
    db: &impl GenericClient,
    redemption_id: i64,
    user_id: i64,
) -> Result<Option<i32>, DbError> {
    let params = &[int8(&redemption_id), int8(&user_id)];
    Ok(fetch_value_opt(db, UNSPENT_DISCOUNT, params)
        .await?
        .flatten())
}

/// The discount of one of the user's redemptions not yet spent, locked until the caller's transaction
/// ends (so of two payments using it at once, the second finds it spent).
pub async fn lock_unspent_discount(
    db: &impl GenericClient,
    redemption_id: i64,
    user_id: i64,
) -> Result<Option<i32>, DbError> {
    let sql = format!("{UNSPENT_DISCOUNT} FOR UPDATE OF r");
    let params = &[int8(&redemption_id), int8(&user_id)];
    Ok(fetch_value_opt(db, &sql, params).await?.flatten())
}

/// Marks a discount used by a payment (once).
pub async fn apply_to_payment(
    db: &impl GenericClient,
    redemption_id: i64,
    payment_id: i64,
) -> Result<bool, DbError> {
    changed_one(
        db,
        "UPDATE promo_redemptions SET payment_id = $2 WHERE id = $1 AND payment_id IS NULL",
        &[int8(&redemption_id), int8(&payment_id)],
    )
    .await
}
