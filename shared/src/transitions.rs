//! A job's status changes and what each causes, one transaction each: the model or generation moves
//! forward (never back), a failure is refunded exactly once, and the outside effects of the change
//! (the user told, the admins told, the album sent) are written to the effect log in the same
//! transaction. Each returns the effects to dispatch after commit, or `None` when nothing moved (a
//! report delivered twice, or by webhook and poller at once, changes things once).

use serde_json::json;

use crate::db::{Burst, Db, DbError, GenericClient};
use crate::domain::moderation;
use crate::domain::progress::{Progress, Tracked, EDIT_INTERVAL_SECS};
use crate::domain::status::{GenerationStatus, ModelStatus};
use crate::effects::{self, AdminNotice, Effect, Notice, Tried, Written};
use crate::errors::Transient;
use crate::metrics;
use crate::notify::ProgressOf;
use crate::repo::attempts;
use crate::repo::costs;
use crate::repo::deliveries::{self, Delivery};
use crate::repo::events::{self, Event};
use crate::repo::generations::{self, Generation};
use crate::repo::ledger::{self, Change, LedgerError, Reason};
use crate::repo::models::{self, Model};
use crate::repo::payments::{self, Payment};
use crate::repo::progress;

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("refund failed")]
    Ledger(#[from] LedgerError),
}

impl Transient for TransitionError {
    fn is_transient(&self) -> bool {
        match self {
            TransitionError::Db(e) => e.is_transient(),
            TransitionError::Ledger(e) => e.is_transient(),
        }
    }
}

impl From<tokio_postgres::Error> for TransitionError {
    fn from(e: tokio_postgres::Error) -> Self {
        TransitionError::Db(e.into())
    }
}

/// A training succeeded: the model is ready and its owner is told.
pub async fn model_ready(
    db: &Db,
    model_id: i64,
    version: &str,
    weights: Option<&str>,
    seconds: Option<f64>,
) -> Result<Option<Written>, TransitionError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(model) = models::advance(
        &*tx,
        model_id,
        ModelStatus::Ready,
        Some(version),
        weights,
        None,
    )
    .await?
    else {
        return Ok(None);
    };
    if let Some(seconds) = seconds {
        models::set_training_seconds(&*tx, model.id, seconds).await?;
    }
    events::record(
        &*tx,
        model.user_id,
        Event::TrainingFinished,
        json!({"model_id": model.id, "status": "ready", "seconds": seconds}),
    )
    .await?;
    let mut written = Written::new();
    written
        .write(
            &*tx,
            &format!("model-ready:{}", model.id),
            &Effect::Notify {
                user_id: model.user_id,
                notice: Notice::ModelReady {
                    model_id: model.id,
                    name: model.name.clone(),
                },
            },
        )
        .await?;
    end_progress(&*tx, &mut written, Tracked::Training { model_id: model.id }).await?;
    if model.retrain_of.is_some() && !model.keep_photos {
        // The photos it carried from the model it replaces go too: that model is retired, and
        // this one keeps none, so nothing trains on them again.
        for prefix in models::carried_photo_prefixes(&*tx, model.id).await? {
            let key = format!("delete-objects:{prefix}");
            written
                .write(&*tx, &key, &Effect::DeleteStoredObjects { prefix })
                .await?;
        }
    }
    clean_up_training(&*tx, &mut written, &model).await?;
    if let Some(old) = model.retrain_of {
        // The retraining replaces its model: the old version goes at Replicate (once, whoever
        // else asks for it too).
        if let Some(Some(version)) = models::retire(&*tx, old, model.id).await? {
            written
                .write(
                    &*tx,
                    &format!("delete-version:{version}"),
                    &Effect::DeleteReplicateVersion { version },
                )
                .await?;
        }
    }
    tx.commit().await?;
    metrics::training(metrics::Training::Succeeded);
    Ok(Some(written))
}

/// A training failed (or could not start): the model is failed and its cost refunded, once; the
/// user and the admins are told.
pub async fn fail_training(
    db: &Db,
    model: &Model,
    error: &str,
) -> Result<Option<Written>, TransitionError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(failed) =
        models::advance(&*tx, model.id, ModelStatus::Failed, None, None, Some(error)).await?
    else {
        return Ok(None);
    };
    let job = FailedJob {
        user_id: failed.user_id,
        cost: failed.cost_tokens,
        refund_reference: format!("model:{}", failed.id),
        notice_key: format!("training-failed:{}", failed.id),
    };
    let (refunded, mut written) = refund_and_tell(
        &*tx,
        job,
        |refunded| Notice::TrainingFailed {
            name: failed.name.clone(),
            refunded,
        },
        AdminNotice::TrainingFailed {
            user_id: failed.user_id,
            model_id: failed.id,
            error: error.to_owned(),
        },
    )
    .await?;
    events::record(
        &*tx,
        failed.user_id,
        Event::TrainingFinished,
        json!({"model_id": failed.id, "status": "failed", "refunded": refunded}),
    )
    .await?;
    end_progress(
        &*tx,
        &mut written,
        Tracked::Training {
            model_id: failed.id,
        },
    )
    .await?;
    clean_up_training(&*tx, &mut written, &failed).await?;
    tx.commit().await?;
    metrics::training(metrics::Training::Failed);
    refunded_metric(metrics::Job::Training, refunded);
    Ok(Some(written))
}

/// Records the copies a delivery just made of a generation's images on it; when the generation
/// takes none (it was erased, failed or canceled meanwhile), nothing holds them, and they are
/// deleted from our bucket through the effect log (what comes back, to execute).
pub async fn keep_or_discard_copies(db: &Db, generation: &Generation) -> Result<Written, DbError> {
    let conn = db.conn().await?;
    let mut written = Written::new();
    if !generations::set_image_keys(&**conn, generation.id, &generation.image_keys).await? {
        let prefix = crate::storage::generation_prefix(generation.user_id, generation.id);
        // Keyed by the time, as an erasure's: copies made by a later try go with a later one.
        let at = chrono::Utc::now().timestamp_millis();
        let key = format!("delete-objects:{prefix}@{at}");
        written
            .write(&**conn, &key, &Effect::DeleteStoredObjects { prefix })
            .await?;
    }
    Ok(written)
}

/// A generation failed (or was canceled): it is refunded, once; the user and the admins are told.
pub async fn fail_generation(
    db: &Db,
    generation: &Generation,
    status: GenerationStatus,
    error: &str,
) -> Result<Option<Written>, TransitionError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(failed) = generations::advance(&*tx, generation.id, status, None, Some(error)).await?
    else {
        return Ok(None);
    };
    // A free redo's debit was paid by its credit, not by the user: refunding it would turn the
    // credit into tokens. Nothing comes back; the redo itself does (a failed one does not count).
    let (cost, free_redo_of) = match (failed.free_redo, failed.again_of) {
        (true, source) => (0, source),
        (false, _) => (failed.cost_tokens, None),
    };
    let job = FailedJob {
        user_id: failed.user_id,
        cost,
        refund_reference: format!("generation:{}", failed.id),
        notice_key: format!("generation-failed:{}", failed.id),
    };
    let (refunded, mut written) = refund_and_tell(
        &*tx,
        job,
        |refunded| {
            if moderation::is_safety_refusal(error) {
                Notice::GenerationUnsafe { refunded }
            } else {
                Notice::GenerationFailed {
                    refunded,
                    free_redo_of,
                }
            }
        },
        AdminNotice::GenerationFailed {
            user_id: failed.user_id,
            generation_id: failed.id,
            error: error.to_owned(),
        },
    )
    .await?;
    end_progress(
        &*tx,
        &mut written,
        Tracked::Generation {
            generation_id: failed.id,
        },
    )
    .await?;
    tx.commit().await?;
    metrics::generation(metrics::Generation::Failed);
    refunded_metric(metrics::Job::Generation, refunded);
    Ok(Some(written))
}

/// A refund that happened (not one already made, nor of a free job) is counted.
fn refunded_metric(job: metrics::Job, tokens: i64) {
    if tokens > 0 {
        metrics::refund(job, tokens);
    }
}

/// What [`results_arrived`] wrote, for [`crate::dispatch::deliver`]: the album's effect (taken),
/// and the generation, its owner and its status message's row as the transaction left them, which
/// the album's first try reads no more.
#[derive(Debug)]
pub struct Arrived {
    pub(crate) written: Written,
    pub(crate) generation: Generation,
    pub(crate) owner: Option<crate::repo::users::User>,
    pub(crate) progress: Option<progress::JobProgress>,
}

/// A prediction succeeded: its image URLs are kept and the album is due (written taken, for the
/// caller to dispatch at once), with its run time's cost when given (recorded whatever the
/// generation's state: see [`crate::outcomes`]); the margin the cost leaves today, if it was new.
/// The report's `delivery`, when given, is finished in the same transaction: once the album is in
/// the effect log, the report is handled. The generation counts as succeeded only once the album
/// is delivered ([`record_delivery`]). One round trip, `COMMIT` included; two when the generation
/// was settled meanwhile (the cost is recorded alone, and the delivery is left to its caller).
pub async fn results_arrived(
    db: &Db,
    generation_id: i64,
    urls: &[String],
    cost: Option<(&costs::JobCost<'_>, &costs::UsdRates)>,
    delivery: Option<Delivery<'_>>,
) -> Result<(Option<f64>, Option<Arrived>), TransitionError> {
    let burst = Burst::new(db.conn().await?);
    let tx = burst.client();
    let recorded = async {
        match cost {
            Some((cost, rates)) => costs::record(tx, cost, rates).await,
            None => Ok(None),
        }
    };
    let finished = async {
        match delivery {
            Some(delivery) => deliveries::finish(tx, delivery).await,
            None => Ok(()),
        }
    };
    let mut written = Written::new();
    let key = format!("deliver:{generation_id}");
    let effect = Effect::DeliverGeneration { generation_id };
    let job = Tracked::Generation { generation_id };
    let (begun, margin, set, wrote, owner, shown, finished, committed) = tokio::join!(
        burst.begin(),
        recorded,
        generations::set_results_or_fail(tx, generation_id, urls),
        written.write_taken(tx, &key, &effect),
        crate::repo::users::generation_owner(tx, generation_id),
        progress::get(tx, job),
        finished,
        burst.commit_joined(),
    );
    let conn = burst.ended();
    if let Err(e) = &set {
        if generations::refused_results(e) {
            // Settled meanwhile: nothing to deliver, but the cost is Replicate's bill all the same.
            let margin = match cost {
                Some((cost, rates)) => costs::record(&**conn, cost, rates).await?,
                None => None,
            };
            return Ok((margin, None));
        }
    }
    drop(conn);
    let margin = begun.and(margin)?;
    let generation = set?;
    wrote.and(finished)?;
    let (owner, progress) = (owner?, shown?);
    committed?;
    Ok((
        margin,
        Some(Arrived {
            written,
            generation,
            owner,
            progress,
        }),
    ))
}

/// What an album's executor did after the album (before [`record_delivery`]): the status
/// message's end, tried if the row it read (`seen`: its message) was not settled; the rating
/// prompt, tried if the album reached its user.
#[derive(Debug, Default)]
pub struct FollowUps {
    pub ended: Option<(Option<i64>, Tried)>,
    pub rated: Option<Tried>,
}

/// The album was sent (`delivered_to` the user, with Telegram's file ids) or could not be (the user
/// blocked the bot): the generation succeeded. Replicate's URLs expire within the hour, so the file
/// ids are what we keep for showing the images again, and our copies' keys (`copied`: recorded
/// now); the first becomes the model's preview. The status message's end and the rating prompt
/// were tried already ([`FollowUps`]): each is written as it went, done or pending for the sweep,
/// under its usual key, so nothing sends it again. One round trip, `COMMIT` included, with the
/// album's effect `effect_id` done with `result`. `false` (nothing changed, and the caller records
/// the effect) when the generation was settled before.
pub async fn record_delivery(
    db: &Db,
    generation: &Generation,
    (file_ids, copied): (&[String], bool),
    delivered_to: Option<i64>,
    follow_ups: &FollowUps,
    (effect_id, result): (i64, &serde_json::Value),
) -> Result<bool, TransitionError> {
    let job = Tracked::Generation {
        generation_id: generation.id,
    };
    let burst = Burst::new(db.conn().await?);
    let tx = burst.client();
    let file_ids_kept = async {
        if file_ids.is_empty() {
            return Ok(());
        }
        generations::set_telegram_file_ids(tx, generation.id, file_ids).await
    };
    let keys_kept = async {
        if !copied {
            return Ok(());
        }
        generations::set_image_keys(tx, generation.id, &generation.image_keys)
            .await
            .map(|_| ())
    };
    let details = json!({"generation_id": generation.id, "images": generation.result_urls.len()});
    let preview = async {
        match generation.model_id {
            // The owner's first delivered image becomes the model's preview (an explicit one is
            // kept).
            Some(model_id) => models::set_first_preview(
                tx,
                model_id,
                generation.user_id,
                file_ids.first().map(String::as_str),
                generation.image_keys.first().map(String::as_str),
            )
            .await
            .map(|_| ()),
            None => Ok(()),
        }
    };
    // The album is there: the "creating…" message goes.
    let end = async {
        match &follow_ups.ended {
            Some((seen, tried)) => effects::settle_progress_tried(tx, job, *seen, tried).await,
            None => Ok(()),
        }
    };
    let rate_prompt = async {
        let (Some(user_id), Some(tried)) = (delivered_to, &follow_ups.rated) else {
            return Ok(());
        };
        let effect = Effect::Notify {
            user_id,
            notice: rate_prompt(generation),
        };
        effects::write_tried(tx, &rate_key(generation.id), &effect, tried).await
    };
    // A generation that does not move was settled before: its advance refuses, and nothing here
    // is committed.
    let (begun, moved, kept, copies, recorded, previewed, end, rate_prompt, finished, committed) = tokio::join!(
        burst.begin(),
        generations::advance_or_fail(tx, generation.id, GenerationStatus::Succeeded),
        file_ids_kept,
        keys_kept,
        events::record(tx, generation.user_id, Event::GenerationDelivered, details),
        preview,
        end,
        rate_prompt,
        crate::repo::effects::finish(tx, effect_id, result),
        burst.commit_joined(),
    );
    drop(burst.ended());
    match begun.and(moved) {
        Err(e) if generations::refused_advance(&e) => return Ok(false),
        moved => moved?,
    };
    kept.and(copies).and(recorded).and(previewed).and(end)?;
    rate_prompt.and(finished).and(committed)?;
    metrics::generation(metrics::Generation::Succeeded);
    Ok(true)
}

/// The rating prompt that follows a generation's album: 1-5 stars, and "more like this" for the
/// same count again (a free redo's price is what it was credited).
pub fn rate_prompt(generation: &Generation) -> Notice {
    Notice::RatePrompt {
        generation_id: generation.id,
        again_cost: Some(generation.cost_tokens),
    }
}

/// The dedupe key of a generation's rating prompt: once per generation.
pub fn rate_key(generation_id: i64) -> String {
    format!("rate:{generation_id}")
}

/// Starts showing a new job's progress to its owner (in the transaction that creates the job): its
/// status message is sent at once, and edited as Replicate reports. Its two statements go out
/// together (the effect reads the progress row only when it runs).
pub async fn track(
    db: &impl GenericClient,
    written: &mut Written,
    job: Tracked,
    user_id: i64,
) -> Result<(), DbError> {
    let key = format!("progress:{}:0", job.key());
    let effect = Effect::ShowProgress { job, open: true };
    let (started, shown) = tokio::join!(
        progress::start(db, job, user_id),
        effects::write(db, &key, &effect)
    );
    started?;
    written.extend(Written::from_ids(shown?));
    Ok(())
}

/// A job's first status message written by [`track_taken`], for [`crate::dispatch::open`]: its
/// effect (taken), the job, the user it goes to (as read in the transaction) and what it shows.
#[derive(Debug)]
pub struct Opening {
    pub(crate) row: crate::repo::effects::EffectRow,
    pub(crate) job: Tracked,
    pub(crate) user: Option<crate::repo::users::User>,
    pub(crate) about: ProgressOf,
}

/// [`track`] for a transaction sent with its `COMMIT` whose caller sends the status message itself
/// once it committed: the effect is written already taken by the caller, and the user it goes to is
/// read in the same burst, for [`crate::dispatch::open`]. `None` when the effect exists already.
pub async fn track_taken(
    db: &impl GenericClient,
    job: Tracked,
    user_id: i64,
    about: ProgressOf,
) -> Result<Option<Opening>, DbError> {
    let key = format!("progress:{}:0", job.key());
    let effect = Effect::ShowProgress { job, open: true };
    let (started, row, user) = tokio::join!(
        progress::start(db, job, user_id),
        effects::write_taken(db, &key, &effect, effects::TAKEN_LEASE_SECS),
        crate::repo::users::get(db, user_id),
    );
    started?;
    let (row, user) = (row?, user?);
    Ok(row.map(|row| Opening {
        row,
        job,
        user,
        about,
    }))
}

/// Replicate reported `progress` for a job: recorded, and its status message edited, unless it was
/// edited less than [`EDIT_INTERVAL_SECS`] ago, the job settled, or the report is older than what
/// is shown (`None`: nothing to do).
pub async fn progress_reported(
    db: &Db,
    job: Tracked,
    reported: &Progress,
) -> Result<Option<Written>, TransitionError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(edit) = progress::record(&*tx, job, reported, EDIT_INTERVAL_SECS).await? else {
        return Ok(None);
    };
    let mut written = Written::new();
    written
        .write(
            &*tx,
            &format!("progress:{}:{edit}", job.key()),
            &Effect::ShowProgress { job, open: false },
        )
        .await?;
    tx.commit().await?;
    Ok(Some(written))
}

/// A job settled: its status message stops changing and is deleted (what settled it says the rest).
pub(crate) async fn end_progress(
    db: &impl GenericClient,
    written: &mut Written,
    job: Tracked,
) -> Result<(), DbError> {
    if progress::settle(db, job).await? {
        written
            .write(
                db,
                &effects::progress_end_key(job),
                &Effect::EndProgress { job },
            )
            .await?;
    }
    Ok(())
}

/// A training settled (ready or failed): the zips of photos uploaded for it are deleted at
/// Replicate, which no longer needs them (one effect per zip, whoever else asks for it too), and
/// the training photos in our bucket unless their owner keeps them.
async fn clean_up_training(
    db: &impl GenericClient,
    written: &mut Written,
    model: &Model,
) -> Result<(), TransitionError> {
    if !model.keep_photos {
        let prefix = crate::storage::model_photos_prefix(model.user_id, model.id);
        written
            .write(
                db,
                &format!("delete-objects:{prefix}"),
                &Effect::DeleteStoredObjects { prefix },
            )
            .await?;
        models::forget_photo_storage(db, model.id).await?;
    }
    for url in attempts::input_refs(db, attempts::Kind::Training, model.id).await? {
        written
            .write(
                db,
                &crate::effects::delete_file_key(&url),
                &Effect::DeleteReplicateFile { url },
            )
            .await?;
    }
    Ok(())
}

/// Credits `tokens` back for `reference`, once (a second refund of the same thing is a no-op).
/// A paid job that failed: its owner, what it cost, and the keys that make its refund and its
/// notices happen once.
struct FailedJob {
    user_id: i64,
    cost: i64,
    refund_reference: String,
    notice_key: String,
}

/// Refunds a failed job's cost (once) and tells its owner, with what was refunded, and the admins.
async fn refund_and_tell(
    db: &impl GenericClient,
    job: FailedJob,
    notice: impl FnOnce(i64) -> Notice,
    admin_notice: AdminNotice,
) -> Result<(i64, Written), TransitionError> {
    let refunded = refund(db, job.user_id, job.cost, &job.refund_reference).await?;
    let mut written = Written::new();
    written
        .tell_user_and_admins(
            db,
            &job.notice_key,
            job.user_id,
            notice(refunded),
            admin_notice,
        )
        .await?;
    Ok((refunded, written))
}

async fn refund(
    db: &impl GenericClient,
    user_id: i64,
    tokens: i64,
    reference: &str,
) -> Result<i64, TransitionError> {
    if tokens <= 0 {
        return Ok(0);
    }
    let change = Change {
        user_id,
        delta: tokens,
        reason: Reason::Refund,
        reference,
        note: None,
    };
    match ledger::apply(db, &change).await {
        Ok(_) => Ok(tokens),
        Err(LedgerError::AlreadyApplied { .. }) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The ledger reference of refund `attempt` of the payment of `charge_id` (its tokens taken back,
/// and returned if Telegram refuses).
pub fn refund_reference(charge_id: &str, attempt: i32) -> String {
    format!("payment:{charge_id}:refund:{attempt}")
}

/// A refund happened at Telegram (ours confirmed, or one Telegram reported), with `taken` tokens
/// already taken back: the payment is refunded, its owner and the admins are told, once. In the
/// caller's transaction, which holds the payment's lock.
pub async fn refund_done(
    db: &impl GenericClient,
    payment: &Payment,
    taken: i64,
    by_telegram: bool,
) -> Result<Written, TransitionError> {
    let mut written = Written::new();
    if !payments::mark_refunded(db, payment.id).await? {
        return Ok(written);
    }
    let balance = crate::repo::users::get(db, payment.user_id)
        .await?
        .map_or(0, |u| u.tokens_left);
    written
        .tell_user_and_admins(
            db,
            &format!("payment-refunded:{}", payment.telegram_charge_id),
            payment.user_id,
            Notice::PaymentRefunded {
                tokens: taken,
                balance,
                amount: payment.amount,
                currency: payment.currency.clone(),
            },
            AdminNotice::PaymentRefunded {
                user_id: payment.user_id,
                payment_id: payment.id,
                tokens: payment.tokens,
                taken,
                amount: payment.amount,
                currency: payment.currency.clone(),
                by_telegram,
            },
        )
        .await?;
    Ok(written)
}

/// Telegram confirmed refund `attempt` of a payment: refunded, told. `None` when that refund is no
/// longer pending (Telegram reported it first, or it was settled otherwise).
pub async fn refund_confirmed(
    db: &Db,
    payment_id: i64,
    attempt: i32,
) -> Result<Option<Written>, TransitionError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(payment) = payments::lock(&*tx, payment_id).await? else {
        return Ok(None);
    };
    if payment.status != payments::REFUND_PENDING || payment.refund_attempts != attempt {
        return Ok(None);
    }
    let written = refund_done(&*tx, &payment, payment.tokens, false).await?;
    tx.commit().await?;
    Ok(Some(written))
}

/// Telegram refused refund `attempt` for good: the payment is back as it was, the tokens taken
/// for it are returned, and the admins are told why. `None` when that refund is no longer pending.
pub async fn refund_refused(
    db: &Db,
    payment_id: i64,
    attempt: i32,
    error: &str,
) -> Result<Option<Written>, TransitionError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(payment) = payments::lock(&*tx, payment_id).await? else {
        return Ok(None);
    };
    if !payments::refund_refused(&*tx, payment.id, attempt, error).await? {
        return Ok(None);
    }
    if payment.tokens > 0 {
        let reference = refund_reference(&payment.telegram_charge_id, attempt);
        let change = Change {
            user_id: payment.user_id,
            delta: payment.tokens,
            reason: Reason::PaymentRefundReversed,
            reference: &reference,
            note: None,
        };
        match ledger::apply(&*tx, &change).await {
            Ok(_) | Err(LedgerError::AlreadyApplied { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut written = Written::new();
    written
        .write(
            &*tx,
            &format!(
                "admins:refund-refused:{}:{attempt}",
                payment.telegram_charge_id
            ),
            &Effect::TellAdmins {
                notice: AdminNotice::RefundRefused {
                    user_id: payment.user_id,
                    payment_id: payment.id,
                    error: error.to_owned(),
                },
            },
        )
        .await?;
    tx.commit().await?;
    Ok(Some(written))
}
