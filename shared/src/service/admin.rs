//! What admins do to users: block, unblock, grant or take tokens (through the ledger, reason `admin`).

use crate::repo::ledger::{self, Balance, Change, Reason};
use crate::repo::users::{self, User};
use crate::services::Services;

use super::ServiceError;

pub async fn set_blocked(
    services: &Services,
    admin_id: i64,
    user_id: i64,
    blocked: bool,
) -> Result<User, ServiceError> {
    let db = services.db()?;
    let user = users::set_blocked(&**db.conn().await?, user_id, blocked)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    tracing::info!(admin_id, user_id, blocked, "admin changed a user's block");
    Ok(user)
}

/// Grants (positive) or takes (negative) tokens; taking more than the user has is refused.
pub async fn adjust_tokens(
    services: &Services,
    admin_id: i64,
    user_id: i64,
    delta: i64,
    note: Option<&str>,
) -> Result<Balance, ServiceError> {
    if delta == 0 {
        return Err(ServiceError::Conflict("the change must not be zero".into()));
    }
    let db = services.db()?;
    let reference = format!("admin:{admin_id}");
    let balance = ledger::apply(
        &**db.conn().await?,
        &Change {
            user_id,
            delta,
            reason: Reason::Admin,
            reference: &reference,
            note,
        },
    )
    .await?;
    tracing::info!(admin_id, user_id, delta, "admin changed a balance");
    Ok(balance)
}
