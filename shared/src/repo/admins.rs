//! Admins kept in the database (besides the owners in ADMIN_IDS) and the audit log of admin actions.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{changed_one, fetch_all, int8, jsonb, returns_row, text, DbError, GenericClient, Page};
use crate::domain::named_enum;

pub async fn is_admin(db: &impl GenericClient, user_id: i64) -> Result<bool, DbError> {
    returns_row(
        db,
        "SELECT 1 AS one FROM admins WHERE user_id = $1",
        &[int8(&user_id)],
    )
    .await
}

/// Adds an admin; false if they already were one.
pub async fn add(db: &impl GenericClient, user_id: i64, added_by: i64) -> Result<bool, DbError> {
    changed_one(
        db,
        "INSERT INTO admins (user_id, added_by) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
        &[int8(&user_id), int8(&added_by)],
    )
    .await
}

/// Removes an admin; false if they were not one.
pub async fn remove(db: &impl GenericClient, user_id: i64) -> Result<bool, DbError> {
    changed_one(
        db,
        "DELETE FROM admins WHERE user_id = $1",
        &[int8(&user_id)],
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEntry {
    pub user_id: i64,
    pub display_name: Option<String>,
    pub added_by: i64,
    pub created_at: DateTime<Utc>,
}

from_row!(AdminEntry, |row| { user_id, display_name, added_by, created_at });

pub async fn list(db: &impl GenericClient) -> Result<Vec<AdminEntry>, DbError> {
    fetch_all(
        db,
        "SELECT a.user_id, COALESCE('@' || u.username, u.first_name) AS display_name, a.added_by, a.created_at
         FROM admins a LEFT JOIN users u ON u.id = a.user_id ORDER BY a.created_at",
        &[],
    )
    .await
}

named_enum! {
    /// What an admin did.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Action {
        Tokens => "tokens",
        Block => "block",
        Unblock => "unblock",
        StyleAdd => "style_add",
        StyleChange => "style_change",
        PromoAdd => "promo_add",
        PromoChange => "promo_change",
        AdminAdd => "admin_add",
        AdminRemove => "admin_remove",
        ModelChange => "model_change",
        PaymentRefund => "payment_refund",
    }
}

/// An admin action to record: who did what, to whom, about what.
#[derive(Debug, Clone)]
pub struct NewAction<'a> {
    pub admin_id: i64,
    pub action: Action,
    pub target_user_id: Option<i64>,
    pub subject: Option<&'a str>,
    pub details: Value,
}

/// Records an action; returns its id. One carried out by a bot press (its subject
/// [`press_subject`]) is recorded once: `None` when that press was recorded before (its update
/// delivered again).
pub async fn record(db: &impl GenericClient, a: &NewAction<'_>) -> Result<Option<i64>, DbError> {
    let row = db
        .query_typed_opt(
            "INSERT INTO admin_actions (admin_id, action, target_user_id, subject, details)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (admin_id, action, subject) WHERE subject LIKE 'press:%' DO NOTHING
             RETURNING id",
            &[
                int8(&a.admin_id),
                text(&a.action.as_str()),
                int8(&a.target_user_id),
                text(&a.subject),
                jsonb(&a.details),
            ],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// The subject of an action carried out by a bot press, as [`record`] knows it.
pub fn press_subject(callback_query_id: &str) -> String {
    format!("press:{callback_query_id}")
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionEntry {
    pub id: i64,
    pub admin_id: i64,
    pub action: Action,
    pub target_user_id: Option<i64>,
    pub subject: Option<String>,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

pub async fn actions(db: &impl GenericClient, page: Page) -> Result<Vec<ActionEntry>, DbError> {
    let rows = db
        .query_typed(
            "SELECT id, admin_id, action, target_user_id, subject, details, created_at FROM admin_actions
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
            &[int8(&page.before()), int8(&page.limit)],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(ActionEntry {
                id: r.get("id"),
                admin_id: r.get("admin_id"),
                action: Action::parse(r.get("action"))?,
                target_user_id: r.get("target_user_id"),
                subject: r.get("subject"),
                details: r.get("details"),
                created_at: r.get("created_at"),
            })
        })
        .collect())
}
