//! Lists come newest first in pages: `limit` (1-100, 20 by default) items with ids below `cursor`
//! (the last id of the previous page); `next_cursor` is the cursor of the next page, `null` at the end.

use serde::{Deserialize, Serialize};
use shared::repo::Page;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiResult, Error};

pub const DEFAULT_LIMIT: i64 = 20;

#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items (1-100, 20 by default).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The last id of the previous page (its `next_cursor`).
    #[param(minimum = 1)]
    pub cursor: Option<i64>,
}

impl PageParams {
    pub fn page(&self) -> ApiResult<Page> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=Page::MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 100"));
        }
        if self.cursor.is_some_and(|c| c < 1) {
            return Err(Error::invalid("cursor", "must be a positive id"));
        }
        Ok(Page {
            limit,
            before_id: self.cursor,
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Paginated<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` when this is the last one.
    pub next_cursor: Option<i64>,
}

impl<T: ToSchema> Paginated<T> {
    /// A page of repository `rows` fetched with `page`, each shown as a `T`; `id` gives a row's id.
    pub fn from_rows<R>(rows: Vec<R>, page: Page, id: impl Fn(&R) -> i64) -> Self
    where
        T: From<R>,
    {
        Self::map_rows(rows, page, id, T::from)
    }

    /// Like [`Paginated::from_rows`], each row shown by `view`.
    pub fn map_rows<R>(
        rows: Vec<R>,
        page: Page,
        id: impl Fn(&R) -> i64,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let next_cursor = if rows.len() as i64 >= page.limit {
            rows.last().map(id)
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}
