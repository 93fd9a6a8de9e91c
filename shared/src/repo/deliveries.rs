//! Exactly-once handling of external deliveries (Telegram updates, Replicate webhooks).
//!
//! A delivery is *claimed* before it is handled and *finished* after; a failed handler *releases* it so
//! the sender's retry is handled again. A concurrent duplicate finds the claim and is skipped. A claim
//! older than two minutes (its handler died, e.g. a Lambda timeout) may be taken over.

use super::{DbError, GenericClient, Type};

/// What was delivered: a Telegram update (by `update_id`) or a Replicate webhook (by `webhook-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery<'a> {
    TelegramUpdate(i64),
    ReplicateWebhook {
        webhook_id: &'a str,
        subject: &'a str,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours to handle.
    Claimed,
    /// Already handled, or being handled right now by another invocation.
    Duplicate,
}

const CLAIM_UPDATE: &str = "INSERT INTO processed_updates (update_id) VALUES ($1)
     ON CONFLICT (update_id) DO UPDATE SET claimed_at = now()
     WHERE processed_updates.status = 'processing'
       AND processed_updates.claimed_at < now() - interval '2 minutes'
     RETURNING 1 AS claimed";
const CLAIM_WEBHOOK: &str = "INSERT INTO webhook_deliveries (webhook_id, subject) VALUES ($1, $2)
     ON CONFLICT (webhook_id) DO UPDATE SET claimed_at = now()
     WHERE webhook_deliveries.status = 'processing'
       AND webhook_deliveries.claimed_at < now() - interval '2 minutes'
     RETURNING 1 AS claimed";

pub async fn claim(db: &impl GenericClient, delivery: Delivery<'_>) -> Result<Claim, DbError> {
    let row = match delivery {
        Delivery::TelegramUpdate(id) => {
            db.query_typed_opt(CLAIM_UPDATE, &[(&id, Type::INT8)])
                .await?
        }
        Delivery::ReplicateWebhook {
            webhook_id,
            subject,
        } => {
            db.query_typed_opt(
                CLAIM_WEBHOOK,
                &[(&webhook_id, Type::TEXT), (&subject, Type::TEXT)],
            )
            .await?
        }
    };
    Ok(if row.is_some() {
        Claim::Claimed
    } else {
        Claim::Duplicate
    })
}

/// Marks a claimed delivery as handled for good.
pub async fn finish(db: &impl GenericClient, delivery: Delivery<'_>) -> Result<(), DbError> {
    match delivery {
        Delivery::TelegramUpdate(id) => {
            db.execute_typed(
                "UPDATE processed_updates SET status = 'done', done_at = now() WHERE update_id = $1",
                &[(&id, Type::INT8)],
            )
            .await?
        }
        Delivery::ReplicateWebhook { webhook_id, .. } => {
            db.execute_typed(
                "UPDATE webhook_deliveries SET status = 'done', done_at = now() WHERE webhook_id = $1",
                &[(&webhook_id, Type::TEXT)],
            )
            .await?
        }
    };
    Ok(())
}

/// Gives a claim back after a failed attempt, so the sender's retry is handled.
pub async fn release(db: &impl GenericClient, delivery: Delivery<'_>) -> Result<(), DbError> {
    match delivery {
        Delivery::TelegramUpdate(id) => {
            db.execute_typed(
                "DELETE FROM processed_updates WHERE update_id = $1 AND status = 'processing'",
                &[(&id, Type::INT8)],
            )
            .await?
        }
        Delivery::ReplicateWebhook { webhook_id, .. } => {
            db.execute_typed(
                "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND status = 'processing'",
                &[(&webhook_id, Type::TEXT)],
            )
            .await?
        }
    };
    Ok(())
}
