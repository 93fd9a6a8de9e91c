//! A personal model from draft to queue: name it, collect 10-20 photos, pay, queue the training job.

use crate::db::{Db, GenericClient};
use crate::domain::progress::Tracked;
use crate::domain::rules::{self, MAX_PHOTOS};
use crate::domain::status::ModelStatus;
use serde_json::json;

use crate::dispatch;
use crate::effects::{Effect, Written};
use crate::metrics;
use crate::repo::events::{self, Event};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::models::{self, Model, NewPhoto};
use crate::services::Services;
use crate::transitions;

use super::{lock_own_model, ServiceError};

/// Starts a draft model with a validated name and a fresh trigger word.
pub async fn start_draft(db: &Db, user_id: i64, name: &str) -> Result<Model, ServiceError> {
    let name = rules::validate_model_name(name)?;
    Ok(models::create_draft(
        &**db.conn().await?,
        user_id,
        &name,
        &rules::new_trigger_word(),
    )
    .await?)
}

/// Starts retraining the user's ready model with more photos: a draft carrying the photos it was
/// trained on that can still be fetched, paid at the retraining price when submitted. The old
/// model stays usable until the new one is ready, and is then retired. A retraining already open
/// for it (a double tap, another device) is returned instead: a draft to add photos to, or one
/// queued or training already. Says whether the draft was started now.
pub async fn start_retrain(
    db: &Db,
    user_id: i64,
    model_id: i64,
) -> Result<(Model, bool), ServiceError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let old = lock_own_model(&*tx, user_id, model_id).await?;
    if old.status != ModelStatus::Ready || old.version.is_none() {
        return Err(ServiceError::Conflict(
            "only a ready model can be retrained".into(),
        ));
    }
    let retrain = match models::open_retrain(&*tx, old.id).await? {
        Some(open) => (open, false),
        None => (models::create_retrain(&*tx, &old).await?, true),
    };
    tx.commit().await?;
    Ok(retrain)
}

/// Drops the user's draft (another user's is not found; one already paid for is not a draft).
pub async fn drop_draft(db: &Db, user_id: i64, model_id: i64) -> Result<(), ServiceError> {
    let conn = db.conn().await?;
    let draft = models::get(&**conn, model_id)
        .await?
        .filter(|m| m.user_id == user_id)
        .ok_or(ServiceError::NotFound("model"))?;
    if draft.status != ModelStatus::Draft {
        return Err(ServiceError::Conflict(format!(
            "the model is already {}",
            draft.status.as_str()
        )));
    }
    crate::repo::erasure::delete_draft(&**conn, model_id).await?;
    Ok(())
}

/// What adding a photo did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoAdded {
    /// Stored; `total` photos now.
    Added { total: i64 },
    /// The same photo (same file_unique_id) was already there.
    Duplicate { total: i64 },
    /// The draft already has the maximum; this one was not stored.
    Full { total: i64 },
}

/// Adds a checked photo to the user's draft. Call within a transaction that holds the model's row
/// (so concurrent album items count correctly); `db` is that transaction.
pub async fn add_photo(
    db: &impl GenericClient,
    model: &Model,
    photo: &NewPhoto,
) -> Result<PhotoAdded, ServiceError> {
    if model.status != ModelStatus::Draft {
        return Err(ServiceError::Conflict(
            "photos can only be added before the training starts".into(),
        ));
    }
    rules::validate_photo(photo.file_size, photo.mime_type.as_deref())?;
    if model.photo_count >= MAX_PHOTOS {
        return Ok(PhotoAdded::Full {
            total: model.photo_count,
        });
    }
    let (added, total) = models::add_photo(db, model.id, photo).await?;
    Ok(if added {
        PhotoAdded::Added { total }
    } else {
        PhotoAdded::Duplicate { total }
    })
}

/// Pays for a draft and queues its training: the cost is debited through the ledger, the model
/// moves to `queued` and the training job is written to the effect log in one transaction (so a
/// double click queues once, and a committed payment always gets its job: a queue that fails now is
/// tried again by the sweep). The job is sent right after commit.
pub async fn submit(
    services: &Services,
    user_id: i64,
    model_id: i64,
) -> Result<Model, ServiceError> {
    let db = services.db();
    // No queue or no storage here at all: refused before anything is paid.
    services.queue.check_configured()?;
    services.storage()?;
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let model = lock_own_model(&*tx, user_id, model_id).await?;
    if model.status != ModelStatus::Draft {
        return Err(ServiceError::Conflict(format!(
            "the model is already {}",
            model.status.as_str()
        )));
    }
    rules::validate_photo_count(model.photo_count)?;
    let cost = rules::draft_cost(&services.config.product, model.retrain_of);
    let reference = format!("model:{}", model.id);
    ledger::apply(
        &*tx,
        &Change {
            user_id,
            delta: -cost,
            reason: Reason::Training,
            reference: &reference,
            note: None,
        },
    )
    .await?;
    if !models::queue(&*tx, model.id, cost).await? {
        return Err(ServiceError::Conflict(
            "the model is no longer a draft".into(),
        ));
    }
    events::record(
        &*tx,
        user_id,
        Event::PhotosUploaded,
        json!({"model_id": model.id, "photos": model.photo_count}),
    )
    .await?;
    events::record(
        &*tx,
        user_id,
        Event::TrainingPaid,
        json!({"model_id": model.id, "tokens": cost}),
    )
    .await?;
    let mut written = Written::new();
    written
        .write(
            &*tx,
            &format!("queue-training:{}", model.id),
            &Effect::QueueTraining { model_id: model.id },
        )
        .await?;
    // Its status message, sent right after the job is queued and edited as the training goes.
    transitions::track(
        &*tx,
        &mut written,
        Tracked::Training { model_id: model.id },
        user_id,
    )
    .await?;
    // Read before commit: nothing may fail after the charge commits (a caller cleaning up after an
    // error would undo a paid request).
    let queued = models::get(&*tx, model.id)
        .await?
        .ok_or(ServiceError::NotFound("model"))?;
    tx.commit().await?;
    drop(conn);
    metrics::training(metrics::Training::Queued);
    dispatch::now(services, written).await;
    Ok(queued)
}
