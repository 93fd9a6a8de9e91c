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

use crate::db::{DbError, GenericClient};
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
    // Its status message ("training…") goes: nothing will report on it again.
    let mut written = Written::new();
    let job = crate::domain::progress::Tracked::Training { model_id: model.id };
    crate::transitions::end_progress(&*tx, &mut written, job).await?;
    // The zips of its photos uploaded for training go too (a training that settled asked already:
    // the effect is once per file).
    for url in attempts::input_refs(&*tx, attempts::Kind::Training, model.id).await? {
        written
            .write(
                &*tx,
                &crate::effects::delete_file_key(&url),
                &Effect::DeleteReplicateFile { url },
            )
            .await?;
    }
    // Its training photos in our bucket go too (the images generated with it stay the user's).
    let prefix = crate::storage::model_photos_prefix(model.user_id, model.id);
    written
        .write(
            &*tx,
            &format!("delete-objects:{prefix}"),
            &Effect::DeleteStoredObjects { prefix },
        )
        .await?;
    let mut refunded = 0;
    if model.status == ModelStatus::Queued && model.cost_tokens > 0 {
        let note = "deleted before its training started";
        refunded = refund_once(
            &*tx,
            user_id,
            &format!("model:{}", model.id),
            model.cost_tokens,
            note,
        )
        .await?;
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
    /// Tokens returned for jobs that never ran: models still queued, generations not yet started
    /// at Replicate.
    pub refunded: i64,
}

/// Refunds `cost` of a model whose training never started, once: the tokens returned now (0 when
/// an earlier erasure refunded them already).
async fn refund_once(
    tx: &impl GenericClient,
    user_id: i64,
    reference: &str,
    cost: i64,
    note: &str,
) -> Result<i64, ServiceError> {
    let change = Change {
        user_id,
        delta: cost,
        reason: Reason::Refund,
        reference,
        note: Some(note),
    };
    match ledger::apply(tx, &change).await {
        Ok(_) => Ok(cost),
        Err(LedgerError::AlreadyApplied { .. }) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Writes one effect per `(dedupe key, effect)` into `written`; how many of them were new (an
/// erasure run again finds them written already). A `Vec`, not an iterator: the future stays `Send`
/// for the API's handlers.
async fn write_new(
    tx: &impl GenericClient,
    written: &mut Written,
    effects: Vec<(String, Effect)>,
) -> Result<usize, DbError> {
    let before = written.ids().len();
    for (key, effect) in effects {
        written.write(tx, &key, &effect).await?;
    }
    Ok(written.ids().len() - before)
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
    let trainings = remote
        .trainings
        .into_iter()
        .map(crate::effects::cancel_training);
    erased.trainings_canceled = write_new(&*tx, &mut written, trainings.collect()).await?;
    let predictions = remote
        .predictions
        .into_iter()
        .map(crate::effects::cancel_prediction);
    erased.predictions_canceled = write_new(&*tx, &mut written, predictions.collect()).await?;
    let versions = remote.versions.into_iter().map(|version| {
        let key = format!("delete-version:{version}");
        (key, Effect::DeleteReplicateVersion { version })
    });
    erased.versions_deleted = write_new(&*tx, &mut written, versions.collect()).await?;
    let api_url = &services.config.replicate.api_url;
    let files = remote.file_urls.into_iter();
    let files = files
        .filter(|url| crate::replicate::file_id(api_url, url).is_some())
        .map(|url| {
            let key = crate::effects::delete_file_key(&url);
            (key, Effect::DeleteReplicateFile { url })
        });
    erased.files_deleted = write_new(&*tx, &mut written, files.collect()).await?;
    // Everything of theirs in our bucket: uploads, training photos, generated images. Keyed by
    // the time: objects made after an earlier erasure go with a later one.
    let at = chrono::Utc::now().timestamp_millis();
    let prefixes = crate::storage::user_prefixes(user_id)
        .into_iter()
        .map(|prefix| {
            let key = format!("delete-objects:{prefix}@{at}");
            (key, Effect::DeleteStoredObjects { prefix })
        });
    write_new(&*tx, &mut written, prefixes.collect()).await?;
    for &(model_id, cost) in remote.queued.iter().filter(|(_, cost)| *cost > 0) {
        let note = "account data deleted before the training started";
        let reference = format!("model:{model_id}");
        erased.refunded += refund_once(&*tx, user_id, &reference, cost, note).await?;
    }
    // A generation whose start has not reached Replicate is canceled by the erasure: nothing ran.
    for &(generation_id, cost) in remote.unstarted.iter().filter(|(_, cost)| *cost > 0) {
        let note = "account data deleted before the generation started";
        let reference = format!("generation:{generation_id}");
        erased.refunded += refund_once(&*tx, user_id, &reference, cost, note).await?;
    }
    erased.rows = erasure::erase_user(&*tx, user_id).await?;
    // The status messages of the jobs it canceled go: nothing will report on them again.
    for job in crate::repo::progress::settle_all_of(&*tx, user_id).await? {
        let key = crate::effects::progress_end_key(job);
        written
            .write(&*tx, &key, &Effect::EndProgress { job })
            .await?;
    }
    tx.commit().await?;
    drop(conn);
    dispatch::now(services, written).await;
    Ok(erased)
}
