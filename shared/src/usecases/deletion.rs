//! User data deletion (`DELETE /api/models/{id}`): a model's training photos and every Replicate
//! reference to it are removed.
//!
//! - A training in progress is canceled at Replicate first (its cost is not refunded: Replicate ran
//!   it); a model still queued is refunded (nothing ran), and the worker skips it.
//! - The trained version is deleted at Replicate, and so are the photos we uploaded to Replicate's
//!   files API; the training zips are deleted through the effect log.
//! - Replicate is asked before anything here changes, while the model's row is locked: if Replicate
//!   fails, nothing is deleted and asking again works (Replicate's 404s count as done).
//! - The model row stays, `canceled`, without photos, version or weights: the ledger and the
//!   generations made with it still refer to it.

use crate::dispatch;
use crate::domain::status::ModelStatus;
use crate::effects::{Effect, Written};
use crate::replicate::Replicate;
use crate::repo::ledger::{self, Change, LedgerError, Reason};
use crate::repo::models::{self, Model};
use crate::repo::{attempts, erasure};
use crate::services::Services;

use super::{lock_own_model, ServiceError};

/// What a deletion did.
#[derive(Debug, Clone)]
pub struct Erased {
    pub model: Model,
    pub photos_removed: i64,
    pub files_deleted: usize,
    pub version_deleted: bool,
    pub training_canceled: bool,
    pub refunded: i64,
}

/// Deletes the data of `user_id`'s model `model_id` (another user's model is not found).
pub async fn erase_model(
    services: &Services,
    user_id: i64,
    model_id: i64,
) -> Result<Erased, ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let model = lock_own_model(&*tx, user_id, model_id).await?;
    let photos = models::photos(&*tx, model.id).await?;

    let training = model
        .replicate_training_id
        .as_deref()
        .filter(|_| model.status == ModelStatus::Training);
    let files: Vec<String> = photos
        .iter()
        .filter_map(|p| p.source_url.as_deref())
        .filter_map(|url| crate::replicate::file_id(&services.config.replicate.api_url, url))
        .collect();
    let mut training_canceled = false;
    let mut version_deleted = false;
    if training.is_some() || model.version.is_some() || !files.is_empty() {
        let replicate: &Replicate = services.replicate()?;
        if let Some(training_id) = training {
            replicate.cancel_training(training_id).await?;
            training_canceled = true;
        }
        if let Some(version) = &model.version {
            replicate.delete_version(version).await?;
            version_deleted = true;
        }
        for file in &files {
            replicate.delete_file(file).await?;
        }
    }

    let photos_removed = erasure::erase_model(&*tx, model.id).await?;
    // The zips of its photos uploaded for training go too (a training that settled asked already:
    // the effect is once per file).
    let mut written = Written::new();
    for url in attempts::input_refs(&*tx, attempts::Kind::Training, model.id).await? {
        written
            .write(
                &*tx,
                &crate::effects::delete_file_key(&url),
                &Effect::DeleteReplicateFile { url },
            )
            .await?;
    }
    let mut refunded = 0;
    if model.status == ModelStatus::Queued && model.cost_tokens > 0 {
        let reference = format!("model:{}", model.id);
        let change = Change {
            user_id,
            delta: model.cost_tokens,
            reason: Reason::Refund,
            reference: &reference,
            note: Some("deleted before its training started"),
        };
        match ledger::apply(&*tx, &change).await {
            Ok(_) => refunded = model.cost_tokens,
            Err(LedgerError::AlreadyApplied { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    let model = models::get(&**conn, model.id)
        .await?
        .ok_or(ServiceError::NotFound("model"))?;
    drop(conn);
    dispatch::now(services, written).await;
    Ok(Erased {
        model,
        photos_removed,
        files_deleted: files.len(),
        version_deleted,
        training_canceled,
        refunded,
    })
}

/// What erasing an account did ([`erase_account`]). The Replicate counts are of what this call
/// asked Replicate for (none when an earlier erasure asked already).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountErased {
    pub rows: erasure::ErasedRows,
    /// Trainings in progress canceled at Replicate (their cost is not refunded: Replicate ran them).
    pub trainings_canceled: usize,
    /// Generations in progress to cancel at Replicate.
    pub predictions_canceled: usize,
    /// Trained versions to delete at Replicate.
    pub versions_deleted: usize,
    /// Files we uploaded to Replicate (photos, training zips) to delete there.
    pub files_deleted: usize,
    /// Tokens returned for models still queued (their training never started).
    pub refunded: i64,
}

/// Erases the data of `user_id`'s account ("delete my data"), in one transaction under the user's
/// row lock (so concurrent erasures erase once): see [`erasure::erase_user`] for what goes and what
/// stays. What lives at Replicate (a training in progress, trained versions, uploaded files) is
/// deleted through the effect log, written in the same transaction: canceled first, deleted after
/// commit, and retried by the sweep while Replicate fails. Erasing again does nothing more.
pub async fn erase_account(
    services: &Services,
    user_id: i64,
) -> Result<AccountErased, ServiceError> {
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    crate::repo::users::get_for_update(&*tx, user_id)
        .await?
        .ok_or(ServiceError::NotFound("user"))?;
    let remote = erasure::remote_data(&*tx, user_id).await?;
    let mut written = Written::new();
    let mut erased = AccountErased::default();
    // Cancels first: a training stopped before its zip and version go.
    let before = written.ids().len();
    for training_id in &remote.trainings {
        written
            .write(
                &*tx,
                &format!("cancel-training:{training_id}"),
                &Effect::CancelTraining {
                    training_id: training_id.clone(),
                },
            )
            .await?;
        erased.trainings_canceled = written.ids().len() - before;
    }
    let before = written.ids().len();
    for prediction_id in &remote.predictions {
        written
            .write(
                &*tx,
                &format!("cancel-prediction:{prediction_id}"),
                &Effect::CancelPrediction {
                    prediction_id: prediction_id.clone(),
                },
            )
            .await?;
        erased.predictions_canceled = written.ids().len() - before;
    }
    let before = written.ids().len();
    for version in &remote.versions {
        written
            .write(
                &*tx,
                &format!("delete-version:{version}"),
                &Effect::DeleteReplicateVersion {
                    version: version.clone(),
                },
            )
            .await?;
        erased.versions_deleted = written.ids().len() - before;
    }
    let before = written.ids().len();
    for url in remote
        .file_urls
        .iter()
        .filter(|url| crate::replicate::file_id(&services.config.replicate.api_url, url).is_some())
    {
        written
            .write(
                &*tx,
                &crate::effects::delete_file_key(url),
                &Effect::DeleteReplicateFile { url: url.clone() },
            )
            .await?;
        erased.files_deleted = written.ids().len() - before;
    }
    for &(model_id, cost) in remote.queued.iter().filter(|(_, cost)| *cost > 0) {
        let reference = format!("model:{model_id}");
        let change = Change {
            user_id,
            delta: cost,
            reason: Reason::Refund,
            reference: &reference,
            note: Some("account data deleted before the training started"),
        };
        match ledger::apply(&*tx, &change).await {
            Ok(_) => erased.refunded += cost,
            Err(LedgerError::AlreadyApplied { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    erased.rows = erasure::erase_user(&*tx, user_id).await?;
    tx.commit().await?;
    drop(conn);
    dispatch::now(services, written).await;
    Ok(erased)
}
