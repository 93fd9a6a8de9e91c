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
pub mod idempotency;
pub mod ledger;
pub mod models;
pub mod payments;
pub mod promos;
pub mod rate_limits;
pub mod referrals;
pub mod stats;
pub mod styles;
pub mod uploads;
pub mod users;

pub use crate::db::{DbError, GenericClient};
pub use tokio_postgres::types::Type;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// A statement's parameters, each with its type (what `query_typed` sends in one round trip).
pub(crate) type Params<'a> = &'a [(&'a (dyn ToSql + Sync), Type)];

/// A row type its repository reads from its own column list.
pub(crate) trait FromRow: Sized {
    /// What `SELECT` lists for it.
    const COLUMNS: &'static str;
    /// Its table (with the alias `COLUMNS` uses, if any).
    const FROM: &'static str;

    fn from_row(row: &Row) -> Self;
}

/// The row of `T`'s table that matches `condition` (and whatever clauses follow it), if any.
pub(crate) async fn find<T: FromRow>(
    db: &impl GenericClient,
    condition: &str,
    params: Params<'_>,
) -> Result<Option<T>, DbError> {
    let sql = format!("SELECT {} FROM {} WHERE {condition}", T::COLUMNS, T::FROM);
    fetch_opt(db, &sql, params).await
}

/// A page of `T`'s rows, newest first: `owner`'s only, or everyone's.
pub(crate) async fn find_page<T: FromRow>(
    db: &impl GenericClient,
    owner: Option<i64>,
    page: Page,
) -> Result<Vec<T>, DbError> {
    let (before, limit) = (page.before(), page.limit);
    match owner {
        Some(user_id) => {
            let condition = "user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
            let params: Params = &[
                (&user_id, Type::INT8),
                (&before, Type::INT8),
                (&limit, Type::INT8),
            ];
            find_all(db, condition, params).await
        }
        None => {
            let condition = "id < $1 ORDER BY id DESC LIMIT $2";
            find_all(
                db,
                condition,
                &[(&before, Type::INT8), (&limit, Type::INT8)],
            )
            .await
        }
    }
}

/// The rows of `T`'s table that match `condition` (and whatever clauses follow it).
pub(crate) async fn find_all<T: FromRow>(
    db: &impl GenericClient,
    condition: &str,
    params: Params<'_>,
) -> Result<Vec<T>, DbError> {
    let sql = format!("SELECT {} FROM {} WHERE {condition}", T::COLUMNS, T::FROM);
    fetch_all(db, &sql, params).await
}

/// Whether the statement changed exactly one row.
pub(crate) async fn changed_one(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<bool, DbError> {
    Ok(db.execute_typed(sql, params).await? == 1)
}

/// The statement's only row, read as `T`.
pub(crate) async fn fetch_one<T: FromRow>(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<T, DbError> {
    Ok(T::from_row(&db.query_typed_one(sql, params).await?))
}

/// The statement's row, if any, read as `T`.
pub(crate) async fn fetch_opt<T: FromRow>(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<T>, DbError> {
    Ok(db
        .query_typed_opt(sql, params)
        .await?
        .as_ref()
        .map(T::from_row))
}

/// Every row of the statement, read as `T`.
pub(crate) async fn fetch_all<T: FromRow>(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<T>, DbError> {
    Ok(db
        .query_typed(sql, params)
        .await?
        .iter()
        .map(T::from_row)
        .collect())
}

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
