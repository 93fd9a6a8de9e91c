//! What happens when Replicate reports on a training or a prediction, whether the report came by
//! webhook or by polling: the model or generation moves forward (never back), failures are refunded
//! exactly once, the user gets their model or their photos, the admins hear about failures.
//!
//! Each step is guarded by the status transition itself (an UPDATE that only moves forward), so a
//! report delivered twice, or by webhook and poller at once, has its effects once.

use teloxide_core::payloads::SendMediaGroupSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, InputFile, InputMedia, InputMediaPhoto, Message, ParseMode};

use crate::db::DbError;
use crate::domain::callbacks::Callback;
use crate::domain::status::{GenerationStatus, ModelStatus, ReplicateStatus};
use crate::notify::{self, NotifyError};
use crate::replicate::Job;
use serde_json::json;

use crate::repo::events::{self, Event};
use crate::repo::generations::{self, Generation};
use crate::repo::ledger::{self, Change, LedgerError, Reason};
use crate::repo::models::{self, Model};
use crate::repo::users;
use crate::services::{Services, Unavailable};
use crate::telegram::{Telegram, TelegramError};
use crate::texts::{html, Texts};

#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("refund failed")]
    Ledger(#[from] LedgerError),
    #[error("telling the user failed")]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

impl crate::once::Transient for OutcomeError {
    /// Worth the sender delivering the report again.
    fn is_transient(&self) -> bool {
        match self {
            OutcomeError::Db(_) => true,
            OutcomeError::Ledger(LedgerError::Db(_)) => true,
            OutcomeError::Ledger(_) => false,
            OutcomeError::Notify(e) => e.is_transient(),
            OutcomeError::Unavailable(_) => false,
        }
    }
}

/// What a report was about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    Training(Model),
    Prediction(Generation),
}

impl Subject {
    pub fn label(&self) -> String {
        match self {
            Subject::Training(m) => format!("training:{}", m.id),
            Subject::Prediction(g) => format!("prediction:{}", g.id),
        }
    }
}

/// Finds what a Replicate id belongs to: ours only, found by the id we stored when we created it,
/// or, when that is not stored yet (Replicate called back before the worker recorded its answer, or
/// the answer was lost), through the attempt tagged in the webhook URL: the job is attached to its
/// model or generation at once. A job of an abandoned attempt is canceled and is nobody's.
pub async fn find_subject(
    services: &Services,
    replicate_id: &str,
    attempt: Option<&str>,
) -> Result<Option<Subject>, OutcomeError> {
    let db = services.db()?;
    let conn = db.conn().await?;
    if let Some(model) = models::find_by_training_id(&**conn, replicate_id).await? {
        return Ok(Some(Subject::Training(model)));
    }
    if let Some(generation) = generations::find_by_prediction_id(&**conn, replicate_id).await? {
        return Ok(Some(Subject::Prediction(generation)));
    }
    drop(conn);
    match attempt {
        Some(tag) => find_by_attempt(services, replicate_id, tag).await,
        None => Ok(None),
    }
}

async fn find_by_attempt(
    services: &Services,
    replicate_id: &str,
    tag: &str,
) -> Result<Option<Subject>, OutcomeError> {
    use crate::attempts::{self as settle, Attached};
    use crate::repo::attempts::{self, Kind};
    let db = services.db()?;
    let Some(attempt) = attempts::by_tag(&**db.conn().await?, tag).await? else {
        return Ok(None);
    };
    if settle::attach(db, &attempt, replicate_id).await? == Attached::Unwanted {
        match services.replicate() {
            Ok(replicate) => {
                if let Err(e) = settle::cancel(replicate, attempt.kind, replicate_id).await {
                    tracing::error!(error = %crate::http::error_chain(&e), "could not cancel an unwanted job");
                }
            }
            Err(e) => tracing::error!(error = %e, "an unwanted job cannot be canceled here"),
        }
        return Ok(None);
    }
    let conn = db.conn().await?;
    Ok(match attempt.kind {
        Kind::Training => models::get(&**conn, attempt.subject_id)
            .await?
            .map(Subject::Training),
        Kind::Prediction => generations::get(&**conn, attempt.subject_id)
            .await?
            .map(Subject::Prediction),
    })
}

/// Whether the report changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Advanced,
    Unchanged,
}

pub async fn apply(
    services: &Services,
    subject: Subject,
    job: &Job,
) -> Result<Applied, OutcomeError> {
    match subject {
        Subject::Training(model) => apply_training(services, model, job).await,
        Subject::Prediction(generation) => apply_prediction(services, generation, job).await,
    }
}

async fn apply_training(
    services: &Services,
    model: Model,
    job: &Job,
) -> Result<Applied, OutcomeError> {
    let db = services.db()?;
    match job.status {
        ReplicateStatus::Starting | ReplicateStatus::Processing => {
            models::touch(&**db.conn().await?, model.id).await?;
            Ok(Applied::Unchanged)
        }
        ReplicateStatus::Succeeded => match job.training_output() {
            Some((version, weights)) => {
                let mut conn = db.conn().await?;
                let tx = conn.transaction().await.map_err(DbError::from)?;
                let moved = models::advance(
                    &*tx,
                    model.id,
                    ModelStatus::Ready,
                    Some(&version),
                    weights.as_deref(),
                    None,
                )
                .await?;
                let Some(model) = moved else {
                    return Ok(Applied::Unchanged);
                };
                let seconds = job.metrics.as_ref().and_then(|m| m.predict_time);
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
                tx.commit().await.map_err(DbError::from)?;
                drop(conn);
                tell_model_ready(services, &model).await?;
                Ok(Applied::Advanced)
            }
            None => {
                fail_training(
                    services,
                    model,
                    "the training finished without a model version",
                )
                .await
            }
        },
        ReplicateStatus::Failed | ReplicateStatus::Canceled | ReplicateStatus::Aborted => {
            let error = job
                .error_text()
                .unwrap_or_else(|| format!("the training was {:?}", job.status).to_lowercase());
            fail_training(services, model, &error).await
        }
    }
}

/// Marks a model failed and refunds its cost, once; then tells the user and the admins.
pub async fn fail_training(
    services: &Services,
    model: Model,
    error: &str,
) -> Result<Applied, OutcomeError> {
    let db = services.db()?;
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await.map_err(DbError::from)?;
    let Some(failed) =
        models::advance(&*tx, model.id, ModelStatus::Failed, None, None, Some(error)).await?
    else {
        return Ok(Applied::Unchanged);
    };
    let refunded = refund(
        &*tx,
        failed.user_id,
        failed.cost_tokens,
        &format!("model:{}", failed.id),
    )
    .await?;
    events::record(
        &*tx,
        failed.user_id,
        Event::TrainingFinished,
        json!({"model_id": failed.id, "status": "failed", "refunded": refunded}),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    drop(conn);

    tell_failure(
        services,
        failed.user_id,
        |t| t.training_failed(&html(&failed.name), refunded),
        |t, who| t.admin_training_failed(who, failed.id, &html(error)),
    )
    .await?;
    Ok(Applied::Advanced)
}

/// Tells the user their job failed (in their language) and the admins who and why.
async fn tell_failure(
    services: &Services,
    user_id: i64,
    to_user: impl Fn(&dyn Texts) -> String,
    to_admins: impl Fn(&dyn Texts, &str) -> String,
) -> Result<(), OutcomeError> {
    let db = services.db()?;
    let user = users::get(&**db.conn().await?, user_id).await?;
    let Some(user) = user else {
        return Ok(());
    };
    notify::send(services, &user, to_user(notify::texts_for(&user)), None).await?;
    notify::admins(
        services,
        to_admins(notify::admin_texts(), &html(&user.display_name())),
    )
    .await;
    Ok(())
}

async fn tell_model_ready(services: &Services, model: &Model) -> Result<(), OutcomeError> {
    let db = services.db()?;
    let Some(user) = users::get(&**db.conn().await?, model.user_id).await? else {
        return Ok(());
    };
    let t = notify::texts_for(&user);
    let markup = notify::buttons(vec![(
        t.button_generate(),
        Callback::Generate { model_id: model.id }.encode(),
    )]);
    notify::send(
        services,
        &user,
        t.model_ready(&html(&model.name)),
        Some(markup),
    )
    .await?;
    Ok(())
}

/// Credits `tokens` back for `reference`, once (a second refund of the same thing is a no-op).
async fn refund(
    db: &impl crate::db::GenericClient,
    user_id: i64,
    tokens: i64,
    reference: &str,
) -> Result<i64, OutcomeError> {
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

async fn apply_prediction(
    services: &Services,
    generation: Generation,
    job: &Job,
) -> Result<Applied, OutcomeError> {
    let db = services.db()?;
    match job.status {
        ReplicateStatus::Starting | ReplicateStatus::Processing => {
            let moved = generations::advance(
                &**db.conn().await?,
                generation.id,
                job.status.generation_status(),
                None,
                None,
            )
            .await?;
            Ok(if moved.is_some() {
                Applied::Advanced
            } else {
                Applied::Unchanged
            })
        }
        ReplicateStatus::Succeeded => {
            let urls = job.output_urls();
            if urls.is_empty() {
                return fail_generation(
                    services,
                    generation,
                    GenerationStatus::Failed,
                    "no images in the output",
                )
                .await;
            }
            deliver_generation(services, generation.id, &urls).await
        }
        ReplicateStatus::Failed | ReplicateStatus::Canceled | ReplicateStatus::Aborted => {
            let error = job
                .error_text()
                .unwrap_or_else(|| format!("the generation was {:?}", job.status).to_lowercase());
            fail_generation(services, generation, job.status.generation_status(), &error).await
        }
    }
}

/// Sends the images to the user as one album and records them, holding the generation's row so a
/// concurrent report of the same result waits and then finds it delivered. Replicate's URLs expire
/// within the hour, so the Telegram file ids are what we keep for showing them again.
async fn deliver_generation(
    services: &Services,
    generation_id: i64,
    urls: &[String],
) -> Result<Applied, OutcomeError> {
    // No bot means nobody can be told: not a user who blocked us (the report is retried later).
    let telegram = services.telegram()?;
    let db = services.db()?;
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await.map_err(DbError::from)?;
    let Some(generation) = generations::get_for_update(&*tx, generation_id).await? else {
        return Ok(Applied::Unchanged);
    };
    if generation.status.is_final() {
        return Ok(Applied::Unchanged);
    }
    let user = users::get(&*tx, generation.user_id).await?;
    let mut file_ids = Vec::new();
    let mut rating_to = None;
    if let Some(user) = user.filter(|u| !u.bot_blocked) {
        let t = notify::texts_for(&user);
        let caption = t.generation_caption(&html(&generation.prompt));
        match send_album(telegram, user.id, urls, &caption).await {
            Ok(messages) => {
                file_ids = photo_file_ids(&messages);
                rating_to = Some(user.clone());
            }
            Err(TelegramError::Blocked) => {
                users::mark_bot_blocked(&*tx, user.id).await?;
            }
            Err(e) if e.is_transient() => return Err(NotifyError::from(e).into()),
            Err(e) => {
                // Telegram will never take these photos (e.g. it cannot fetch them): a result the
                // user cannot have is a failed generation, refunded, not one retried forever.
                drop(tx);
                drop(conn);
                let error = format!(
                    "the photos could not be sent: {}",
                    crate::http::error_chain(&e)
                );
                return fail_generation(services, generation, GenerationStatus::Failed, &error)
                    .await;
            }
        }
    }
    generations::advance(
        &*tx,
        generation.id,
        GenerationStatus::Succeeded,
        Some(urls),
        None,
    )
    .await?;
    if !file_ids.is_empty() {
        generations::set_telegram_file_ids(&*tx, generation.id, &file_ids).await?;
    }
    events::record(
        &*tx,
        generation.user_id,
        Event::GenerationDelivered,
        json!({"generation_id": generation.id, "images": urls.len()}),
    )
    .await?;
    if let (Some(model_id), Some(file_id)) = (generation.model_id, file_ids.first()) {
        // The owner's first delivered photo becomes the model's preview (an explicit one is kept).
        models::set_first_preview(&*tx, model_id, generation.user_id, file_id).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    drop(conn);
    if let Some(user) = rating_to {
        let t = notify::texts_for(&user);
        let stars = (1..=5)
            .map(|rating| {
                (
                    "⭐".repeat(rating as usize),
                    Callback::Rate {
                        generation_id,
                        rating,
                    }
                    .encode(),
                )
            })
            .collect::<Vec<_>>();
        let markup = teloxide_core::types::ReplyMarkup::InlineKeyboard(
            teloxide_core::types::InlineKeyboardMarkup::new(vec![stars
                .into_iter()
                .map(|(label, data)| {
                    teloxide_core::types::InlineKeyboardButton::callback(label, data)
                })
                .collect::<Vec<_>>()]),
        );
        notify::send(services, &user, t.rate_prompt(), Some(markup)).await?;
    }
    Ok(Applied::Advanced)
}

async fn send_album(
    telegram: &Telegram,
    chat: i64,
    urls: &[String],
    caption: &str,
) -> Result<Vec<Message>, TelegramError> {
    let parsed: Vec<url::Url> = urls.iter().filter_map(|u| u.parse().ok()).collect();
    if parsed.len() == 1 {
        use teloxide_core::payloads::SendPhotoSetters;
        let request = telegram
            .bot
            .send_photo(ChatId(chat), InputFile::url(parsed[0].clone()))
            .caption(caption.to_owned())
            .parse_mode(ParseMode::Html);
        return Ok(vec![telegram.call(request).await?]);
    }
    // An album holds 2-10 items; we generate at most 4.
    let media: Vec<InputMedia> = parsed
        .into_iter()
        .enumerate()
        .map(|(i, url)| {
            let photo = InputMediaPhoto::new(InputFile::url(url));
            InputMedia::Photo(if i == 0 {
                photo
                    .caption(caption.to_owned())
                    .parse_mode(ParseMode::Html)
            } else {
                photo
            })
        })
        .collect();
    let request = telegram
        .bot
        .send_media_group(ChatId(chat), media)
        .disable_notification(false);
    telegram.call(request).await
}

fn photo_file_ids(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.photo().and_then(|sizes| sizes.last()))
        .map(|size| size.file.id.to_string())
        .collect()
}

/// Marks a generation failed (or canceled) and refunds it, once; tells the user and the admins.
pub async fn fail_generation(
    services: &Services,
    generation: Generation,
    status: GenerationStatus,
    error: &str,
) -> Result<Applied, OutcomeError> {
    let db = services.db()?;
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await.map_err(DbError::from)?;
    let Some(failed) = generations::advance(&*tx, generation.id, status, None, Some(error)).await?
    else {
        return Ok(Applied::Unchanged);
    };
    let refunded = refund(
        &*tx,
        failed.user_id,
        failed.cost_tokens,
        &format!("generation:{}", failed.id),
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    drop(conn);

    tell_failure(
        services,
        failed.user_id,
        |t| t.generation_failed(refunded),
        |t, who| t.admin_generation_failed(who, failed.id, &html(error)),
    )
    .await?;
    Ok(Applied::Advanced)
}
