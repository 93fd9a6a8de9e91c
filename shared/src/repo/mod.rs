//! Repositories: every SQL statement of the backend lives here, one function per statement (or per
//! transaction), typed in and out. Functions take any [`GenericClient`] (a pooled connection or a
//! transaction), so the caller decides what runs together.
//!
//! Statements go through `query_typed`: parameters carry their types, so each call is one round trip
//! with an unnamed statement (nothing prepared, nothing pinned on RDS Proxy).

/// Implements [`FromRow`] for a struct whose fields are read by their column names; a field written
/// `name: expr` is computed from the row instead (a parsed status, a renamed column). With
/// `table` and `columns` it also implements [`Table`], for [`find`] and its kin.
macro_rules! from_row {
    ($ty:ty, table $from:expr, columns $columns:expr, $($reader:tt)+) => {
        from_row!($ty, $($reader)+);
        impl $crate::repo::Table for $ty {
            const COLUMNS: &'static str = $columns;
            const FROM: &'static str = $from;
        }
    };
    ($ty:ty, |$row:ident| { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        impl $crate::repo::FromRow for $ty {
            fn from_row($row: &tokio_postgres::Row) -> Self {
                Self { $($field: from_row!(@read $row, $field $(, $value)?)),* }
            }
        }
    };
    (@read $row:ident, $field:ident) => {
        $row.get(stringify!($field))
    };
    (@read $row:ident, $field:ident, $value:expr) => {
        $value
    };
}

pub mod admins;
pub mod attempts;
pub mod costs;
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
pub mod progress;
pub mod promos;
pub mod rate_limits;
pub mod referrals;
pub mod stats;
pub mod styles;
pub mod uploads;
pub mod users;

pub use crate::db::{DbError, GenericClient};

/// The SQLSTATE of a refusal raised by the `refuse(reason, detail)` SQL function: statements sent
/// with their transaction's `COMMIT` refuse by failing, so that the commit rolls back.
const REFUSED: &str = "DP001";

/// The reason and detail of a refusal a statement raised (see [`REFUSED`]).
pub(crate) fn refusal(e: &DbError) -> Option<(&str, &str)> {
    match e {
        DbError::Query(e) => e
            .as_db_error()
            .filter(|d| d.code().code() == REFUSED)
            .map(|d| (d.message(), d.detail().unwrap_or_default())),
        _ => None,
    }
}
pub use tokio_postgres::types::Type;

use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

/// A statement's parameters, each with its type (what `query_typed` sends in one round trip).
pub(crate) type Params<'a> = &'a [(&'a (dyn ToSql + Sync), Type)];

/// One of a statement's [`Params`]: a value and the type it is sent as.
pub(crate) type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// Constructors of a [`Param`] of one type each: `int8(&id)` for `(&id, Type::INT8)`.
macro_rules! typed_params {
    ($($name:ident => $ty:ident),* $(,)?) => {
        $(
            #[doc = concat!("`value` sent as `", stringify!($ty), "`.")]
            pub(crate) fn $name(value: &(dyn ToSql + Sync)) -> Param<'_> {
                (value, Type::$ty)
            }
        )*
    };
}

typed_params! {
    int2 => INT2,
    int4 => INT4,
    int8 => INT8,
    float8 => FLOAT8,
    boolean => BOOL,
    text => TEXT,
    text_array => TEXT_ARRAY,
    jsonb => JSONB,
    timestamptz => TIMESTAMPTZ,
}

/// A type read from one row of a statement, by column names.
pub(crate) trait FromRow: Sized {
    fn from_row(row: &Row) -> Self;
}

/// A row type its repository reads from its own column list.
pub(crate) trait Table: FromRow {
    /// What `SELECT` lists for it.
    const COLUMNS: &'static str;
    /// Its table (with the alias `COLUMNS` uses, if any).
    const FROM: &'static str;
}

/// The row of `T`'s table that matches `condition` (and whatever clauses follow it), if any.
pub(crate) async fn find<T: Table>(
    db: &impl GenericClient,
    condition: &str,
    params: Params<'_>,
) -> Result<Option<T>, DbError> {
    let sql = format!("SELECT {} FROM {} WHERE {condition}", T::COLUMNS, T::FROM);
    fetch_opt(db, &sql, params).await
}

/// A page of `T`'s rows, newest first: `owner`'s only, or everyone's.
pub(crate) async fn find_page<T: Table>(
    db: &impl GenericClient,
    owner: Option<i64>,
    page: Page,
) -> Result<Vec<T>, DbError> {
    let (before, limit) = (page.before(), page.limit);
    match owner {
        Some(user_id) => {
            let condition = "user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3";
            find_all(
                db,
                condition,
                &[int8(&user_id), int8(&before), int8(&limit)],
            )
            .await
        }
        None => {
            let condition = "id < $1 ORDER BY id DESC LIMIT $2";
            find_all(db, condition, &[int8(&before), int8(&limit)]).await
        }
    }
}

/// The rows of `T`'s table that match `condition` (and whatever clauses follow it).
pub(crate) async fn find_all<T: Table>(
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

/// Runs a statement for its effect alone.
pub(crate) async fn execute(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<(), DbError> {
    db.execute_typed(sql, params).await?;
    Ok(())
}

/// Whether the statement returned a row (something matched, or was inserted).
pub(crate) async fn returns_row(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<bool, DbError> {
    Ok(db.query_typed_opt(sql, params).await?.is_some())
}

/// The first column of the statement's only row.
pub(crate) async fn fetch_value<T: for<'r> FromSql<'r>>(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<T, DbError> {
    Ok(db.query_typed_one(sql, params).await?.get(0))
}

/// The first column of the statement's row, if there is one.
pub(crate) async fn fetch_value_opt<T: for<'r> FromSql<'r>>(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Option<T>, DbError> {
    Ok(db.query_typed_opt(sql, params).await?.map(|row| row.get(0)))
}

/// The first column of every row of the statement.
pub(crate) async fn fetch_values<T: for<'r> FromSql<'r>>(
    db: &impl GenericClient,
    sql: &str,
    params: Params<'_>,
) -> Result<Vec<T>, DbError> {
    let rows = db.query_typed(sql, params).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
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

/// Records a sweep's check of row `id` of `table` (models and generations are checked alike): the
/// check time moves it to the back of the line, and a failed check is counted where a good one
/// resets the count. Returns the failed checks in a row (0 when there is no such row).
pub(crate) async fn record_check(
    db: &impl GenericClient,
    table: &str,
    id: i64,
    failed: bool,
) -> Result<i32, DbError> {
    let sql = format!(
        "UPDATE {table} SET checked_at = now(),
             failed_checks = CASE WHEN $2 THEN failed_checks + 1 ELSE 0 END
         WHERE id = $1 RETURNING failed_checks"
    );
    let failed_checks = fetch_value_opt(db, &sql, &[int8(&id), boolean(&failed)]).await?;
    Ok(failed_checks.unwrap_or_default())
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

/// Work waiting: how many items, and how long the oldest has waited (0 when none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub count: i64,
    pub oldest_seconds: f64,
}

from_row!(Backlog, |row| { count, oldest_seconds });
