//! A personal model from draft to queue: name it, collect 10-20 photos, pay, queue the training job.

use crate::db::{Db, GenericClient};
use crate::domain::photos::{self, Checker, Measurements, Problem};
use crate::domain::progress::Tracked;
use crate::domain::rules::{self, MAX_PHOTOS};
use crate::domain::status::ModelStatus;
use serde_json::json;
use std::sync::Arc;

use crate::dispatch;
use crate::effects::{Effect, Written};
use crate::metrics;
use crate::repo::events::{self, Event};
use crate::repo::ledger::{self, Change, Reason};
use crate::repo::models::{self, Model, NewPhoto, PhotoCheck};
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

/// A photo's bytes measured by the check (before the draft is locked: it takes tens of
/// milliseconds), with the checker that judges it against the draft's other photos.
#[derive(Debug, Clone)]
pub struct Checked {
    checker: Arc<Checker>,
    /// What was measured, or why nothing could be ([`Problem::Unreadable`]).
    pub measured: Result<Measurements, Problem>,
}

impl Checked {
    /// A photo that could not even be read (its file is gone, or it is not an image): `None` when
    /// the check is off.
    pub fn unreadable(services: &Services) -> Option<Self> {
        Some(Self {
            checker: services.photo_check.clone()?,
            measured: Err(Problem::Unreadable),
        })
    }

    /// The verdict given the hashes of the good photos before it (`None`: good).
    pub fn verdict(&self, earlier: &[u64]) -> Option<Problem> {
        match &self.measured {
            Ok(m) => self.checker.verdict(m, earlier),
            Err(problem) => Some(*problem),
        }
    }

    fn stored(&self, problem: Option<Problem>) -> PhotoCheck {
        let measured = self.measured.as_ref().ok();
        PhotoCheck {
            problem: problem.map(|p| p.code().to_owned()),
            photo_hash: measured.map(|m| photos::stored_hash(m.hash)),
            measurements: measured.and_then(|m| serde_json::to_value(m).ok()),
        }
    }
}

/// Measures a photo on a blocking thread. `None` when the check is off, and for HEIC, which it
/// cannot decode (such a photo counts unchecked, as before the check).
pub async fn measure_photo(services: &Services, bytes: Vec<u8>) -> Option<Checked> {
    let checker = services.photo_check.clone()?;
    if rules::sniff_image(&bytes) == Some(rules::ImageKind::Heic) {
        return None;
    }
    let started = std::time::Instant::now();
    let measuring = checker.clone();
    let measured = match tokio::task::spawn_blocking(move || measuring.measure(&bytes)).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(_)) => Err(Problem::Unreadable),
        Err(e) => {
            tracing::error!(error = %e, "the photo check panicked");
            Err(Problem::Unreadable)
        }
    };
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        measured = ?measured,
        "photo checked"
    );
    Some(Checked { checker, measured })
}

/// The verdicts of photos checked together (a training request), in order: each against the good
/// ones before it, as adding them to a draft one by one judges them (`None` in: not checked, good).
pub fn judge_all(checked: &[Option<Checked>]) -> Vec<Option<Problem>> {
    let mut good: Vec<u64> = Vec::new();
    checked
        .iter()
        .map(|c| {
            let c = c.as_ref()?;
            let verdict = c.verdict(&good);
            if let (None, Ok(m)) = (verdict, &c.measured) {
                good.push(m.hash);
            }
            verdict
        })
        .collect()
}

/// A photo of a draft the check found a problem with: its number in the order the photos came
/// (from 1), and the problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToReplace {
    pub number: usize,
    pub problem: Problem,
}

/// The draft's photos to replace.
pub async fn photos_to_replace(
    db: &impl GenericClient,
    model_id: i64,
) -> Result<Vec<ToReplace>, ServiceError> {
    Ok(models::photos(db, model_id)
        .await?
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let problem = Problem::parse(p.problem.as_deref()?)?;
            Some(ToReplace {
                number: i + 1,
                problem,
            })
        })
        .collect())
}

/// What adding a photo did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoAdded {
    /// Stored; `total` good photos now.
    Added { total: i64 },
    /// Stored as one to replace (it does not count); still `total` good photos.
    Rejected { total: i64, problem: Problem },
    /// The same photo (same file_unique_id) was already there.
    Duplicate { total: i64 },
    /// The draft already has the maximum; this one was not stored.
    Full { total: i64 },
}

/// Adds a photo the check did not see to the user's draft (see [`add_checked_photo`]).
pub async fn add_photo(
    db: &impl GenericClient,
    model: &Model,
    photo: &NewPhoto,
) -> Result<PhotoAdded, ServiceError> {
    add_checked_photo(db, model, photo, None).await
}

/// Adds a photo to the user's draft, judged by the check (when `checked`) against the draft's good
/// photos: one with a problem is kept to be named, but does not count. Call within a transaction
/// that holds the model's row (so concurrent album items count and compare correctly); `db` is
/// that transaction.
pub async fn add_checked_photo(
    db: &impl GenericClient,
    model: &Model,
    photo: &NewPhoto,
    checked: Option<&Checked>,
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
    let Some(checked) = checked else {
        let (added, total) = models::add_photo(db, model.id, photo).await?;
        return Ok(if added {
            PhotoAdded::Added { total }
        } else {
            PhotoAdded::Duplicate { total }
        });
    };
    let kept = models::photos(db, model.id).await?;
    if kept.len() as i64 >= photos::MAX_KEPT_PHOTOS {
        return Ok(PhotoAdded::Full {
            total: model.photo_count,
        });
    }
    let earlier: Vec<u64> = kept
        .iter()
        .filter(|p| p.problem.is_none())
        .filter_map(|p| p.photo_hash.map(photos::hash_of))
        .collect();
    let problem = checked.verdict(&earlier);
    let (added, total) =
        models::add_checked_photo(db, model.id, photo, &checked.stored(problem)).await?;
    Ok(match (added, problem) {
        (false, _) => PhotoAdded::Duplicate { total },
        (true, Some(problem)) => PhotoAdded::Rejected { total, problem },
        (true, None) => PhotoAdded::Added { total },
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
