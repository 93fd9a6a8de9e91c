//! The token ledger: the one way a balance changes.
//!
//! [`apply`] is a single statement that moves the balance and appends the ledger row together, and
//! refuses to take the balance below zero. Concurrent debits serialise on the user's row: Postgres
//! re-checks the `tokens_left + delta >= 0` condition after waiting for the lock, so 50 concurrent
//! debits of 1 against a balance of 10 make exactly 10 succeed.

use chrono::{DateTime, Utc};

use super::{fetch_value, find_page, int8, text, DbError, GenericClient, Page};

/// Why a balance changed; stored as the ledger row's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Purchase,
    ReferralBonus,
    Training,
    Generation,
    Refund,
    Admin,
    Promo,
    /// A refunded payment's tokens taken back.
    PaymentRefund,
    /// Telegram refused that refund: the tokens returned.
    PaymentRefundReversed,
    /// A free redo after a low rating: the redo's price, credited in the transaction that debits
    /// it, once per slot (`free-redo:<generation>:<n>`).
    FreeRedo,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Purchase => "purchase",
            Reason::ReferralBonus => "referral_bonus",
            Reason::Training => "training",
            Reason::Generation => "generation",
            Reason::Refund => "refund",
            Reason::Admin => "admin",
            Reason::Promo => "promo",
            Reason::PaymentRefund => "payment_refund",
            Reason::PaymentRefundReversed => "payment_refund_reversed",
            Reason::FreeRedo => "free_redo",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "purchase" => Reason::Purchase,
            "referral_bonus" => Reason::ReferralBonus,
            "training" => Reason::Training,
            "generation" => Reason::Generation,
            "refund" => Reason::Refund,
            "promo" => Reason::Promo,
            "payment_refund" => Reason::PaymentRefund,
            "payment_refund_reversed" => Reason::PaymentRefundReversed,
            "free_redo" => Reason::FreeRedo,
            _ => Reason::Admin,
        }
    }
}

/// A balance change to apply: `delta` tokens (negative to debit) for `reason`, about `reference`
/// (e.g. `model:12`). Purchases, referral bonuses, refunds, payment refunds (and their reversals)
/// and free redos happen once per reference.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub user_id: i64,
    pub delta: i64,
    pub reason: Reason,
    pub reference: &'a str,
    pub note: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub tokens_left: i64,
    pub tokens_spent: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("not enough tokens: {available} left, {required} needed")]
    Insufficient { available: i64, required: i64 },
    #[error("user {0} does not exist")]
    NoSuchUser(i64),
    #[error("this {reason} for {reference} was already applied")]
    AlreadyApplied {
        reason: &'static str,
        reference: String,
    },
    #[error("a balance change of zero tokens")]
    ZeroDelta,
    /// Another transaction wrote this once-only change first, after this statement looked: the
    /// caller's transaction is aborted; tried again, it finds the change [`Self::AlreadyApplied`].
    #[error("this {reason} for {reference} was being applied at the same time")]
    Raced {
        reason: &'static str,
        reference: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The balance moved and the ledger row written, unless the balance would go below zero or a
/// once-only change (the reasons of token_ledger_once_idx) is already in the ledger. That is found
/// here, not by the unique index: a violation would abort the caller's transaction. (Two racing
/// first attempts still meet the index; the loser's error, [`LedgerError::Raced`], is transient and
/// its retry finds the row.)
const APPLY: &str = "WITH current AS (
        SELECT tokens_left FROM users WHERE id = $1
     ), already AS (
        SELECT 1 FROM token_ledger
        WHERE reason = $3 AND reference = $4
          AND $3 IN ('purchase', 'referral_bonus', 'refund', 'promo', 'payment_refund',
                     'payment_refund_reversed', 'free_redo')
        LIMIT 1
     ), moved AS (
        UPDATE users SET
            tokens_left = tokens_left + $2,
            -- spending is what training and generation cost, less what was refunded
            -- or given for a free redo
            tokens_spent = GREATEST(0, tokens_spent
                - CASE WHEN $3 IN ('training', 'generation', 'refund', 'free_redo') THEN $2
                       ELSE 0 END),
            updated_at = now()
        WHERE id = $1 AND tokens_left + $2 >= 0 AND NOT EXISTS (SELECT 1 FROM already)
        RETURNING tokens_left, tokens_spent
     ), written AS (
        INSERT INTO token_ledger (user_id, delta, balance_after, reason, reference, note)
        SELECT $1, $2, tokens_left, $3, $4, $5 FROM moved
        RETURNING id
     )";

/// Applies one balance change and writes it to the ledger, atomically.
pub async fn apply(db: &impl GenericClient, change: &Change<'_>) -> Result<Balance, LedgerError> {
    let sql = format!(
        "{APPLY}
         SELECT current.tokens_left AS before, moved.tokens_left, moved.tokens_spent,
                EXISTS (SELECT 1 FROM already) AS already_applied
         FROM current LEFT JOIN moved ON true LEFT JOIN written ON true"
    );
    let row = match query(db, &sql, change).await? {
        Some(row) => row,
        None => return Err(LedgerError::NoSuchUser(change.user_id)),
    };
    if row.get::<_, bool>("already_applied") {
        return Err(already_applied(change));
    }
    match row.get::<_, Option<i64>>("tokens_left") {
        Some(tokens_left) => Ok(Balance {
            tokens_left,
            tokens_spent: row.get("tokens_spent"),
        }),
        None => Err(LedgerError::Insufficient {
            available: row.get("before"),
            required: -change.delta,
        }),
    }
}

/// [`apply`] for a transaction whose `COMMIT` goes out with it ([`crate::db::Burst::commit_joined`]):
/// a change refused (too few tokens, already applied, no such user) fails the statement, so the
/// transaction rolls back; the error says why, as [`apply`]'s does.
pub async fn apply_or_fail(
    db: &impl GenericClient,
    change: &Change<'_>,
) -> Result<Balance, LedgerError> {
    let sql = format!(
        "{APPLY}
         SELECT moved.tokens_left, moved.tokens_spent,
                CASE WHEN NOT EXISTS (SELECT 1 FROM current) THEN refuse('no_such_user', '')
                     WHEN EXISTS (SELECT 1 FROM already) THEN refuse('already_applied', '')
                     WHEN moved.tokens_left IS NULL
                         THEN refuse('insufficient', (SELECT tokens_left FROM current)::text)
                END AS refused
         FROM (SELECT 1) AS one LEFT JOIN moved ON true LEFT JOIN written ON true"
    );
    let refused = |e: LedgerError| {
        let LedgerError::Db(db) = &e else { return e };
        match super::refusal(db) {
            Some(("no_such_user", _)) => LedgerError::NoSuchUser(change.user_id),
            Some(("already_applied", _)) => already_applied(change),
            Some(("insufficient", available)) => LedgerError::Insufficient {
                available: available.parse().unwrap_or_default(),
                required: -change.delta,
            },
            _ => e,
        }
    };
    let row = query(db, &sql, change)
        .await
        .map_err(refused)?
        .ok_or(LedgerError::NoSuchUser(change.user_id))?;
    Ok(Balance {
        tokens_left: row.get("tokens_left"),
        tokens_spent: row.get("tokens_spent"),
    })
}

async fn query(
    db: &impl GenericClient,
    sql: &str,
    change: &Change<'_>,
) -> Result<Option<tokio_postgres::Row>, LedgerError> {
    if change.delta == 0 {
        return Err(LedgerError::ZeroDelta);
    }
    let reason = change.reason.as_str();
    let result = db
        .query_typed_opt(
            sql,
            &[
                int8(&change.user_id),
                int8(&change.delta),
                text(&reason),
                text(&change.reference),
                text(&change.note),
            ],
        )
        .await;
    match result {
        Ok(row) => Ok(row),
        Err(e) if e.as_db_error().and_then(|d| d.constraint()) == Some("token_ledger_once_idx") => {
            Err(LedgerError::Raced {
                reason: change.reason.as_str(),
                reference: change.reference.to_owned(),
            })
        }
        Err(e) => Err(DbError::from(e).into()),
    }
}

fn already_applied(change: &Change<'_>) -> LedgerError {
    LedgerError::AlreadyApplied {
        reason: change.reason.as_str(),
        reference: change.reference.to_owned(),
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub delta: i64,
    pub balance_after: i64,
    pub reason: Reason,
    pub reference: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

from_row!(Entry, table "token_ledger",
columns "id, delta, balance_after, reason, reference, note, created_at",
|row| {
    id, delta, balance_after,
    reason: Reason::parse(row.get("reason")),
    reference, note, created_at,
});

pub async fn entries(
    db: &impl GenericClient,
    user_id: i64,
    page: Page,
) -> Result<Vec<Entry>, DbError> {
    find_page(db, Some(user_id), page).await
}

/// The sum of a user's ledger, which must always equal their `tokens_left`.
pub async fn sum(db: &impl GenericClient, user_id: i64) -> Result<i64, DbError> {
    fetch_value(
        db,
        "SELECT COALESCE(sum(delta), 0)::int8 AS total FROM token_ledger WHERE user_id = $1",
        &[int8(&user_id)],
    )
    .await
}

/// Tokens an admin granted (positive admin changes under `reference`) in the last 24 hours, with
/// that admin's grants serialised until the caller's transaction ends (so two grants at once cannot
/// both pass a daily cap).
pub async fn granted_today_locked(
    db: &impl GenericClient,
    reference: &str,
) -> Result<i64, DbError> {
    db.execute_typed(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[text(&reference)],
    )
    .await?;
    fetch_value(
        db,
        "SELECT COALESCE(sum(delta), 0)::int8 AS granted FROM token_ledger
             WHERE reason = 'admin' AND reference = $1 AND delta > 0
               AND created_at > now() - interval '24 hours'",
        &[text(&reference)],
    )
    .await
}
