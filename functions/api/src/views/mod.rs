//! What the API answers: every JSON body a route returns, a module per resource, each built from
//! repository rows and domain values (`From`, or a constructor). The tables' columns are not the
//! API: a field is public because it is listed here. Request bodies live with the routes that read
//! and check them.

/// `From<row> for view`, field by field, each converted with `Into` (so a status becomes its
/// view). A view field the row does not have, or one left out of the list, does not compile.
macro_rules! from_row {
    ($row:ty => $view:ident { $($field:ident),+ $(,)? }) => {
        impl From<$row> for $view {
            fn from(row: $row) -> Self {
                Self {
                    $($field: row.$field.into()),+
                }
            }
        }
    };
}

/// `From<domain enum> for view enum`, variant by variant (a variant missing on either side does
/// not compile).
macro_rules! from_variants {
    ($domain:ty => $view:ident { $($variant:ident),+ $(,)? }) => {
        impl From<$domain> for $view {
            fn from(value: $domain) -> Self {
                type Domain = $domain;
                match value {
                    $(Domain::$variant => Self::$variant),+
                }
            }
        }
    };
}

pub mod admins;
pub mod costs;
pub mod generations;
pub mod images;
pub mod meta;
pub mod models;
pub mod payments;
pub mod photos;
pub mod promos;
pub mod referrals;
pub mod stats;
pub mod styles;
pub mod uploads;
pub mod users;

/// Repository rows, each shown as its view.
pub fn from_rows<R, T: From<R>>(rows: Vec<R>) -> Vec<T> {
    rows.into_iter().map(T::from).collect()
}
