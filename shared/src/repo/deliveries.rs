//! Exactly-once handling of external deliveries (Telegram updates, Replicate webhooks).
//!
//! A delivery is *claimed* before it is handled and *finished* after; a failed handler *releases* it so
//! the sender's retry is handled again. A duplicate of a finished delivery is skipped; one that arrives
//! while another invocation still holds the claim is told so (the sender must come back, not be told
//! "done"). A claim older than two minutes (its handler died, e.g. a Lambda timeout) is taken over.

use super::{execute, fetch_value_opt, int4, int8, text, DbError, GenericClient, Param};

/// What was delivered: a Telegram update (by `update_id`) or a Replicate webhook (by `webhook-id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery<'a> {
    TelegramUpdate(i64),
    /// Claimed with the id of the Replicate job it reported on (from the body), so the claim needs
    /// no lookup before it and goes out with the lookups of what the job is ours for. Its row's
    /// `subject` (for the operator only) is `replicate:<job id>`, which names the model's training
    /// or the generation's prediction as well as our ids would.
    ReplicateWebhook {
        webhook_id: &'a str,
        replicate_id: &'a str,
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

impl Delivery<'_> {
    /// Where its dedupe row lives: the table, its key column, and the key.
    fn dedupe_row(&self) -> (&'static str, &'static str, Param<'_>) {
        match self {
            Delivery::TelegramUpdate(id) => ("processed_updates", "update_id", int8(id)),
            Delivery::ReplicateWebhook { webhook_id, .. } => {
                ("webhook_deliveries", "webhook_id", text(webhook_id))
            }
        }
    }
}

/// The dedupe tables with their key columns, for [`prune`].
const DEDUPE_TABLES: [(&str, &str); 2] = [
    ("processed_updates", "update_id"),
    ("webhook_deliveries", "webhook_id"),
];

/// The statement claiming a delivery whose row is inserted as `columns` = `values` (the key first).
/// The insert claims a new delivery or takes over one whose handler's lease ran out; otherwise the
/// row as it was before this statement says whether it is done or still being handled.
fn claim_statement(table: &str, key: &str, columns: &str, values: &str) -> String {
    format!(
        "WITH claimed AS (
             INSERT INTO {table} ({columns}) VALUES ({values})
             ON CONFLICT ({key}) DO UPDATE SET claimed_at = now()
             WHERE {table}.status = 'processing'
               AND {table}.claimed_at < now() - interval '2 minutes'
             RETURNING 'claimed'::text AS claim)
         SELECT claim FROM claimed
         UNION ALL
         SELECT status FROM {table}
         WHERE {key} = $1 AND NOT EXISTS (SELECT 1 FROM claimed)"
    )
}

pub async fn claim(db: &impl GenericClient, delivery: Delivery<'_>) -> Result<Claim, DbError> {
    let (table, key, id) = delivery.dedupe_row();
    let claim: Option<String> = match delivery {
        Delivery::TelegramUpdate(_) => {
            let sql = claim_statement(table, key, key, "$1");
            fetch_value_opt(db, &sql, &[id]).await?
        }
        Delivery::ReplicateWebhook { replicate_id, .. } => {
            let sql = claim_statement(table, key, "webhook_id, subject", "$1, 'replicate:' || $2");
            fetch_value_opt(db, &sql, &[id, text(&replicate_id)]).await?
        }
    };
    Ok(match claim.as_deref() {
        Some("claimed") => Claim::Claimed,
        Some("done") => Claim::Duplicate,
        // Still processing, or claimed by a concurrent insert this statement could not see yet.
        _ => Claim::InProgress,
    })
}

/// Marks a claimed delivery as handled for good.
pub async fn finish(db: &impl GenericClient, delivery: Delivery<'_>) -> Result<(), DbError> {
    let (table, key, id) = delivery.dedupe_row();
    let sql = format!("UPDATE {table} SET status = 'done', done_at = now() WHERE {key} = $1");
    execute(db, &sql, &[id]).await
}

/// Gives a claim back after a failed attempt, so the sender's retry is handled.
pub async fn release(db: &impl GenericClient, delivery: Delivery<'_>) -> Result<(), DbError> {
    let (table, key, id) = delivery.dedupe_row();
    let sql = format!("DELETE FROM {table} WHERE {key} = $1 AND status = 'processing'");
    execute(db, &sql, &[id]).await
}

/// Deletes dedupe rows older than `days` (past the senders' retry windows: Telegram keeps an update
/// for 24 hours, Replicate retries a webhook for minutes), at most `limit` of each kind: finished
/// ones, and claims never finished (a handler that died, or one that changed nothing and left its
/// claim as it was).
pub async fn prune(db: &impl GenericClient, days: i32, limit: i64) -> Result<u64, DbError> {
    let mut pruned = 0;
    for (table, key) in DEDUPE_TABLES {
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN (
                 (SELECT {key} FROM {table}
                  WHERE status = 'done' AND done_at < now() - make_interval(days => $1)
                  UNION ALL
                  SELECT {key} FROM {table}
                  WHERE status = 'processing' AND claimed_at < now() - make_interval(days => $1))
                 LIMIT $2)"
        );
        pruned += db.execute_typed(&sql, &[int4(&days), int8(&limit)]).await?;
    }
    Ok(pruned)
}
