//! Exactly-once handling of external deliveries (Telegram updates, Replicate webhooks).
//!
//! A delivery is *claimed* before it is handled and *finished* after; a failed handler *releases* it so
//! the sender's retry is handled again. A duplicate of a finished delivery is skipped; one that arrives
//! while another invocation still holds the claim is told so (the sender must come back, not be told
//! "done"). A claim older than two minutes (its handler died, e.g. a Lambda timeout) is taken over.

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
    /// Already handled.
    Duplicate,
    /// Being handled right now by another invocation (whose lease has not run out).
    InProgress,
}

// The insert claims a new delivery or takes over one whose handler's lease ran out; otherwise the
// row as it was before this statement says whether it is done or still being handled.
const CLAIM_UPDATE: &str = "WITH claimed AS (
         INSERT INTO processed_updates (update_id) VALUES ($1)
         ON CONFLICT (update_id) DO UPDATE SET claimed_at = now()
         WHERE processed_updates.status = 'processing'
           AND processed_updates.claimed_at < now() - interval '2 minutes'
         RETURNING 'claimed'::text AS claim)
     SELECT claim FROM claimed
     UNION ALL
     SELECT status FROM processed_updates
     WHERE update_id = $1 AND NOT EXISTS (SELECT 1 FROM claimed)";
const CLAIM_WEBHOOK: &str = "WITH claimed AS (
         INSERT INTO webhook_deliveries (webhook_id, subject) VALUES ($1, $2)
         ON CONFLICT (webhook_id) DO UPDATE SET claimed_at = now()
         WHERE webhook_deliveries.status = 'processing'
           AND webhook_deliveries.claimed_at < now() - interval '2 minutes'
         RETURNING 'claimed'::text AS claim)
     SELECT claim FROM claimed
     UNION ALL
     SELECT status FROM webhook_deliveries
     WHERE webhook_id = $1 AND NOT EXISTS (SELECT 1 FROM claimed)";

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
    let claim: Option<String> = row.map(|r| r.get(0));
    Ok(match claim.as_deref() {
        Some("claimed") => Claim::Claimed,
        Some("done") => Claim::Duplicate,
        // Still processing, or claimed by a concurrent insert this statement could not see yet.
        _ => Claim::InProgress,
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

/// Deletes finished dedupe rows older than `days` (past the senders' retry windows: Telegram keeps
/// an update for 24 hours, Replicate retries a webhook for minutes), at most `limit` of each kind.
pub async fn prune(db: &impl GenericClient, days: i32, limit: i64) -> Result<u64, DbError> {
    let updates = db
        .execute_typed(
            "DELETE FROM processed_updates WHERE update_id IN (
                 SELECT update_id FROM processed_updates
                 WHERE status = 'done' AND done_at < now() - make_interval(days => $1) LIMIT $2)",
            &[(&days, Type::INT4), (&limit, Type::INT8)],
        )
        .await?;
    let webhooks = db
        .execute_typed(
            "DELETE FROM webhook_deliveries WHERE webhook_id IN (
                 SELECT webhook_id FROM webhook_deliveries
                 WHERE status = 'done' AND done_at < now() - make_interval(days => $1) LIMIT $2)",
            &[(&days, Type::INT4), (&limit, Type::INT8)],
        )
        .await?;
    Ok(updates + webhooks)
}
