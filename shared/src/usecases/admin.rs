//! What admins do: block, unblock, grant or take tokens (through the ledger, reason `admin`), manage
//! styles and other admins. Every action is written to the audit log in the same transaction.
//!
//! Owners are the ids in ADMIN_IDS (configuration: they can never be removed from chat); admins are
//! the users owners add. Both use admin commands; only owners manage admins and read the audit log.

use serde_json::json;

use crate::db::GenericClient;
use crate::dispatch;
use crate::effects::{refresh_commands_key, Effect, Written};
use crate::repo::admins::{self, Action, NewAction};
use crate::repo::ledger::{self, Balance, Change, Reason};
use crate::repo::styles::{self, NewStyle, Style};
use crate::repo::users::{self, User};
use crate::services::Services;

use super::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
}

/// The user's admin role, if any.
pub async fn role(
    services: &Services,
    db: &impl GenericClient,
    user_id: i64,
) -> Result<Option<Role>, ServiceError> {
    if services.config.is_admin(user_id) {
        return Ok(Some(Role::Owner));
    }
    Ok(admins::is_admin(db, user_id).await?.then_some(Role::Admin))
}

async fn audit(
    db: &impl GenericClient,
    admin_id: i64,
    action: Action,
    target_user_id: Option<i64>,
    subject: Option<&str>,
    details: serde_json::Value,
) -> Result<i64, ServiceError> {
    let action = NewAction {
        admin_id,
        action,
        target_user_id,
        subject,
        details,
    };
    admins::record(db, &action)
        .await?
        .ok_or_else(|| ServiceError::Conflict("this was done already".into()))
}

pub async fn set_blocked(
    services: &Services,
    admin_id: i64,
    user_id: i64,
    blocked: bool,
) -> Result<User, ServiceError> {
    if blocked && (user_id == admin_id || services.config.is_admin(user_id)) {
        return Err(ServiceError::Conflict(
            "owners (ADMIN_IDS) and you yourself cannot be blocked".into(),
        ));
    }
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let user = users::set_blocked(&*tx, user_id, blocked)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let action = if blocked {
        Action::Block
    } else {
        Action::Unblock
    };
    audit(&*tx, admin_id, action, Some(user_id), None, json!({})).await?;
    tx.commit().await?;
    Ok(user)
}

/// The most tokens one grant gives.
pub const MAX_GRANT: i64 = 10_000;
/// The most tokens one admin grants in 24 hours (a leaked admin account can mint only so much).
pub const MAX_GRANTED_PER_DAY: i64 = 50_000;

/// Grants (positive) or takes (negative) tokens; taking more than the user has is refused. Nobody
/// grants tokens to themselves, a grant is at most [`MAX_GRANT`], and an admin's grants add up to at
/// most [`MAX_GRANTED_PER_DAY`]. Every change is in the audit log. One made by a bot press
/// (`press`, its callback query id) is made once, however often the press is delivered: a repeat
/// answers the balance as it is.
pub async fn adjust_tokens(
    services: &Services,
    admin_id: i64,
    user_id: i64,
    delta: i64,
    note: Option<&str>,
    press: Option<&str>,
) -> Result<Balance, ServiceError> {
    if delta == 0 {
        return Err(ServiceError::Conflict("the change must not be zero".into()));
    }
    if delta > 0 && user_id == admin_id {
        return Err(ServiceError::Conflict(
            "admins cannot grant tokens to themselves".into(),
        ));
    }
    if delta.abs() > MAX_GRANT {
        return Err(ServiceError::Conflict(format!(
            "one change is at most {MAX_GRANT} tokens"
        )));
    }
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let subject = press.map(admins::press_subject);
    let action = NewAction {
        admin_id,
        action: Action::Tokens,
        target_user_id: Some(user_id),
        subject: subject.as_deref(),
        details: json!({"delta": delta, "note": note}),
    };
    if admins::record(&*tx, &action).await?.is_none() {
        // This press was carried out before (its update came again).
        drop(tx);
        let user = users::get(&**conn, user_id)
            .await?
            .ok_or(ServiceError::NotFound("user"))?;
        return Ok(Balance {
            tokens_left: user.tokens_left,
            tokens_spent: user.tokens_spent,
        });
    }
    let reference = format!("admin:{admin_id}");
    if delta > 0 {
        let granted = ledger::granted_today_locked(&*tx, &reference).await?;
        if granted + delta > MAX_GRANTED_PER_DAY {
            return Err(ServiceError::Conflict(format!(
                "an admin grants at most {MAX_GRANTED_PER_DAY} tokens a day ({granted} so far)"
            )));
        }
    }
    let balance = ledger::apply(
        &*tx,
        &Change {
            user_id,
            delta,
            reason: Reason::Admin,
            reference: &reference,
            note,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(balance)
}

/// Adds a style; `None` if one with that name exists.
pub async fn add_style(
    services: &Services,
    admin_id: i64,
    style: &NewStyle,
) -> Result<Option<Style>, ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(created) = styles::create(&*tx, style).await? else {
        return Ok(None);
    };
    audit(
        &*tx,
        admin_id,
        Action::StyleAdd,
        None,
        Some(&format!("style:{}", created.id)),
        json!({"name": created.name}),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(created))
}

/// Offers a ready model to everyone as a system model (or makes it a user's own again). Offering is
/// for owners only, and only a model whose owner agreed ([`crate::repo::models::set_sharing_consent`]):
/// it is someone's face. Any admin may stop offering one.
pub async fn set_system_model(
    services: &Services,
    admin_id: i64,
    model_id: i64,
    system: bool,
) -> Result<(), ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    if system && role(services, &**conn, admin_id).await? != Some(Role::Owner) {
        return Err(ServiceError::Forbidden);
    }
    let tx = conn.transaction().await?;
    let model = crate::repo::models::get_for_update(&*tx, model_id)
        .await?
        .ok_or(ServiceError::NotFound("model"))?;
    if system && model.status != crate::domain::status::ModelStatus::Ready {
        return Err(ServiceError::Conflict(
            "only a ready model can be offered to everyone".into(),
        ));
    }
    if system && model.shared_consent_at.is_none() {
        return Err(ServiceError::Conflict(
            "its owner has not agreed to offer this model to everyone".into(),
        ));
    }
    crate::repo::models::set_type(&*tx, model_id, system).await?;
    audit(
        &*tx,
        admin_id,
        Action::ModelChange,
        Some(model.user_id),
        Some(&format!("model:{model_id}")),
        json!({"system": system}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Owners add admins (the user must have used the bot) and remove them; an owner (ADMIN_IDS)
/// cannot be removed from chat. Returns whether anything changed. A change refreshes the user's
/// own command menu, through the effect log.
pub async fn change_admin(
    services: &Services,
    owner_id: i64,
    user_id: i64,
    add: bool,
) -> Result<bool, ServiceError> {
    if !add && services.config.is_admin(user_id) {
        return Err(ServiceError::Conflict(
            "owners are set in ADMIN_IDS and cannot be removed here".into(),
        ));
    }
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    if role(services, &*tx, owner_id).await? != Some(Role::Owner) {
        return Err(ServiceError::Forbidden);
    }
    let mut written = Written::new();
    let changed = if add {
        if users::get(&*tx, user_id).await?.is_none() {
            return Err(ServiceError::NotFound("user"));
        }
        admins::add(&*tx, user_id, owner_id).await?
    } else {
        admins::remove(&*tx, user_id).await?
    };
    if changed {
        let action = if add {
            Action::AdminAdd
        } else {
            Action::AdminRemove
        };
        let action_id = audit(&*tx, owner_id, action, Some(user_id), None, json!({})).await?;
        written
            .write(
                &*tx,
                &refresh_commands_key(user_id, &format!("admin-action:{action_id}")),
                &Effect::RefreshCommands { user_id },
            )
            .await?;
    }
    tx.commit().await?;
    // The effect takes a connection of its own (a Lambda's pool has one).
    drop(conn);
    dispatch::now(services, written).await;
    Ok(changed)
}
