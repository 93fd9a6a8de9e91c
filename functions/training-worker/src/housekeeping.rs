//! The scheduled run's other half: effects left in the log are executed (a transient failure, a
//! crash between commit and dispatch), and dedupe, effect and idempotency-key rows past their windows
//! are pruned; the effect backlog and the training queue are measured.

use serde::Serialize;
use shared::db::DbError;
use shared::dispatch::{self, Drained};
use shared::repo::{deliveries, effects, idempotency, models, uploads};
use shared::services::Services;
use shared::storage::ObjectKey;

/// Effects executed per run (each is a Telegram call or two; the next run takes the rest).
const DRAIN_LIMIT: i64 = 200;
/// Telegram keeps an undelivered update for 24 hours and Replicate retries a webhook for minutes:
/// a week of dedupe rows covers both with room to spare.
const DEDUPE_DAYS: i32 = 7;
/// Settled effects stay a month, for reading what was sent when.
const EFFECT_DAYS: i32 = 30;
/// Uploads no training took are deleted a day after their URLs expired (S3's lifecycle rule
/// deletes their objects too; on one machine this is what does).
const UPLOAD_GRACE_SECS: i64 = 24 * 60 * 60;
/// Rows deleted per kind per run, so a backlog is worked off without one long statement.
const PRUNE_LIMIT: i64 = 5_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HousekeepingReport {
    pub effects: Drained,
    pub pruned: u64,
}

pub async fn housekeeping(services: &Services) -> Result<HousekeepingReport, DbError> {
    let effects_done = dispatch::drain(services, DRAIN_LIMIT).await?;
    let db = services.db();
    let conn = db.conn().await?;
    let pruned = deliveries::prune(&**conn, DEDUPE_DAYS, PRUNE_LIMIT).await?
        + effects::prune(&**conn, EFFECT_DAYS, PRUNE_LIMIT).await?
        + idempotency::purge(&**conn, PRUNE_LIMIT).await?
        + prune_uploads(services, &**conn).await?;
    // What is still waiting after this run: the alarms and the dashboard read these gauges.
    let backlog = effects::backlog(&**conn).await?;
    shared::metrics::effect_backlog(backlog.count, backlog.oldest_seconds);
    let queued = models::queued_backlog(&**conn).await?;
    shared::metrics::training_queue(queued.count, queued.oldest_seconds);
    if effects_done != Drained::default() || pruned > 0 {
        tracing::info!(
            done = effects_done.done,
            retrying = effects_done.retrying,
            failed = effects_done.failed,
            pruned,
            "housekeeping done"
        );
    }
    Ok(HousekeepingReport {
        effects: effects_done,
        pruned,
    })
}

/// Deletes uploads no training took, object first: a row is forgotten only once its object is gone.
async fn prune_uploads(
    services: &Services,
    db: &impl shared::db::GenericClient,
) -> Result<u64, DbError> {
    let Ok(storage) = services.storage() else {
        return Ok(0);
    };
    let expired = uploads::expired(db, UPLOAD_GRACE_SECS, PRUNE_LIMIT).await?;
    let mut gone = Vec::with_capacity(expired.len());
    for upload in expired {
        let deleted = match ObjectKey::parse(&upload.storage_key) {
            Some(key) => storage.delete(&key).await,
            None => Ok(()),
        };
        match deleted {
            Ok(()) => gone.push(upload.id),
            Err(e) => {
                tracing::warn!(error = %e, "an expired upload could not be deleted; next run")
            }
        }
    }
    uploads::delete(db, &gone).await
}
