//! Handling an external delivery exactly once (a Telegram update, a Replicate webhook): claim it,
//! handle it, mark it done; on a transient failure give the claim back so the sender's retry is
//! handled; on a permanent one log it once and mark it done (it would fail again on every retry).

use std::future::Future;

use crate::db::{Db, DbError};
use crate::errors::Transient;
use crate::repo::deliveries::{self, Claim, Delivery};
use crate::telemetry::error_chain;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled<T> {
    /// Handled now, with what the handler returned.
    Done(T),
    /// Failed for good (logged once, marked done so it is not retried).
    Failed,
    /// Already handled.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum OnceError<E: std::error::Error + 'static> {
    #[error("recording the delivery failed")]
    Db(#[from] DbError),
    #[error("handling failed, a retry may succeed")]
    Transient(#[source] E),
    /// Another invocation is handling it now: not done yet, so the sender must deliver it again.
    #[error("the delivery is being handled by another invocation; deliver it again later")]
    InProgress,
}

pub async fn handle_once<T, E, F, Fut>(
    db: &Db,
    delivery: Delivery<'_>,
    handler: F,
) -> Result<Handled<T>, OnceError<E>>
where
    E: Transient,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let claim = deliveries::claim(&**db.conn().await?, delivery).await?;
    handle_claimed(db, delivery, claim, handler, |_| true).await
}

/// The rest of [`handle_once`], for a caller that made the claim itself (to send it in one round
/// trip with its handler's first query). A `Claimed` delivery is finished or released here whatever
/// the handler does, so the handler must own every step after the claim, failures included.
///
/// A handler's success may leave nothing to guard: when `record` says so of what it returned, the
/// claim is left as it is (no round trip). A redelivery inside the claim's lease is told to come
/// back; after it, the delivery is handled again, which is right for a handler that changed nothing
/// and whose answer travels in the response the sender did not get.
pub async fn handle_claimed<T, E, F, Fut>(
    db: &Db,
    delivery: Delivery<'_>,
    claim: Claim,
    handler: F,
    record: impl FnOnce(&T) -> bool,
) -> Result<Handled<T>, OnceError<E>>
where
    E: Transient,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    match claim {
        Claim::Claimed => {}
        Claim::Duplicate => {
            tracing::info!("duplicate delivery skipped");
            return Ok(Handled::Duplicate);
        }
        Claim::InProgress => {
            tracing::info!("delivery still being handled elsewhere; the sender will come back");
            return Err(OnceError::InProgress);
        }
    }
    match handler().await {
        Ok(value) => {
            if record(&value) {
                deliveries::finish(&**db.conn().await?, delivery).await?;
            }
            Ok(Handled::Done(value))
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(error = %error_chain(&e), "delivery failed, the sender will deliver it again");
            deliveries::release(&**db.conn().await?, delivery).await?;
            Err(OnceError::Transient(e))
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "delivery failed permanently");
            deliveries::finish(&**db.conn().await?, delivery).await?;
            Ok(Handled::Failed)
        }
    }
}
