//! Owners' and admins' routes (`/api/admin/...`), a module per resource: statistics, users,
//! payments, the style catalogue, promo codes, system models, and (owners only) the admins and
//! their audit log. Every change is written to the audit log by the shared admin use cases, as when
//! done through the bot.

pub mod admins;
pub mod models;
pub mod payments;
pub mod promos;
pub mod stats;
pub mod styles;
pub mod users;

use std::sync::Arc;

use shared::usecases::admin::Role;

use crate::auth::AdminUser;
use crate::error::{ApiResult, Error};
use crate::routing::ApiRouter;
use crate::State;

pub fn router() -> ApiRouter<Arc<State>> {
    ApiRouter::new()
        .merge(stats::router())
        .merge(users::router())
        .merge(payments::router())
        .merge(styles::router())
        .merge(promos::router())
        .merge(models::router())
        .merge(admins::router())
}

/// Routes for owners (ADMIN_IDS) only, not the admins they added.
fn owner_only(admin: &AdminUser) -> ApiResult<()> {
    if admin.role == Role::Owner {
        Ok(())
    } else {
        Err(Error::forbidden("only an owner (ADMIN_IDS) may do this"))
    }
}
