//! Repositories: every SQL statement of the backend lives here, one function per statement (or per
//! transaction), typed in and out. Functions take any [`GenericClient`] (a pooled connection or a
//! transaction), so the caller decides what runs together.
//!
//! Statements go through `query_typed`: parameters carry their types, so each call is one round trip
//! with an unnamed statement (nothing prepared, nothing pinned on RDS Proxy).

pub mod admins;
pub mod attempts;
pub mod deliveries;
pub mod effects;
pub mod erasure;
pub mod events;
pub mod feedback;
pub mod generations;
pub mod ledger;
pub mod models;
pub mod payments;
pub mod promos;
pub mod rate_limits;
pub mod referrals;
pub mod stats;
pub mod styles;
pub mod users;

pub use crate::db::{DbError, GenericClient};
pub use tokio_postgres::types::Type;

/// A page of a list: `limit` rows with ids below `cursor` (newest first).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub before_id: Option<i64>,
}

impl Page {
    pub const MAX_LIMIT: i64 = 100;

    pub fn first(limit: i64) -> Self {
        Self {
            limit: limit.clamp(1, Self::MAX_LIMIT),
            before_id: None,
        }
    }

    /// The id to pass as `$n` for "ids below the cursor" (`i64::MAX` on the first page).
    pub(crate) fn before(&self) -> i64 {
        self.before_id.unwrap_or(i64::MAX)
    }
}
