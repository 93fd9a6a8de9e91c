//! Owners, the admins they added, and the audit log of what admins did (`GET /api/admin/admins`,
//! `GET /api/admin/actions`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use shared::repo::admins;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Admins {
    /// The owners, from ADMIN_IDS.
    pub owners: Vec<i64>,
    pub admins: Vec<AdminEntry>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminEntry {
    pub user_id: i64,
    pub display_name: Option<String>,
    pub added_by: i64,
    pub created_at: DateTime<Utc>,
}

from_row!(admins::AdminEntry => AdminEntry { user_id, display_name, added_by, created_at });

/// What an admin did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Tokens,
    Block,
    Unblock,
    StyleAdd,
    StyleChange,
    PromoAdd,
    PromoChange,
    AdminAdd,
    AdminRemove,
    ModelChange,
    PaymentRefund,
}

from_variants!(admins::Action => Action {
    Tokens, Block, Unblock, StyleAdd, StyleChange, PromoAdd, PromoChange, AdminAdd, AdminRemove,
    ModelChange, PaymentRefund,
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionEntry {
    pub id: i64,
    pub admin_id: i64,
    pub action: Action,
    pub target_user_id: Option<i64>,
    pub subject: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

from_row!(admins::ActionEntry => ActionEntry {
    id, admin_id, action, target_user_id, subject, details, created_at,
});
