//! A queued model becomes a Replicate training: photos downloaded, zipped in memory, uploaded through
//! the files API, the destination model made if missing, the training created with our webhook.

use std::io::Write;

use serde_json::json;
use shared::db::DbError;
use shared::domain::status::ModelStatus;
use shared::outcomes::{self, OutcomeError};
use shared::replicate::{Replicate, ReplicateError};
use shared::repo::events::{self, Event};
use shared::repo::models::{self, Model, TrainingPhoto};
use shared::services::{Services, Unavailable};
use shared::telegram::TelegramError;
use teloxide_core::requests::Requester;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("the message is not a training job: {0}")]
    BadMessage(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("Replicate failed")]
    Replicate(#[from] ReplicateError),
    #[error("downloading a photo failed: {0}")]
    Download(String),
    #[error("Telegram failed")]
    Telegram(#[from] TelegramError),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("settling the failed training failed")]
    Outcome(#[from] OutcomeError),
}

/// Why a training cannot start, ever: the model is failed and refunded.
#[derive(Debug)]
struct Permanent(String);

/// Starts the training of a queued model. A model that is not queued (already started by a duplicate
/// delivery, or deleted) is done with. A transient failure is returned (SQS retries); a permanent one
/// fails the model and refunds its tokens.
pub async fn start_training(services: &Services, model_id: i64) -> Result<(), WorkerError> {
    let db = services.db()?;
    let replicate = services.replicate()?;
    let mut conn = db.conn().await?;
    // The row lock makes a concurrent duplicate delivery wait here, then find the model `training`.
    let tx = conn.transaction().await.map_err(DbError::from)?;
    let Some(model) = models::get_for_update(&*tx, model_id).await? else {
        tracing::warn!("no such model; nothing to train");
        return Ok(());
    };
    if model.status != ModelStatus::Queued {
        tracing::info!(
            status = model.status.as_str(),
            "model is not queued; duplicate delivery skipped"
        );
        return Ok(());
    }
    let photos = models::photos(&*tx, model.id).await?;
    match create_training(services, replicate, &model, &photos).await {
        Ok((training_id, destination)) => {
            models::start_training(&*tx, model.id, &training_id, &destination).await?;
            events::record(
                &*tx,
                model.user_id,
                Event::TrainingStarted,
                serde_json::json!({"model_id": model.id, "training_id": training_id}),
            )
            .await?;
            tx.commit().await.map_err(DbError::from)?;
            tracing::info!(training_id = %training_id, "training started");
            Ok(())
        }
        Err(Attempt::Transient(e)) => Err(e),
        Err(Attempt::Permanent(Permanent(reason))) => {
            drop(tx); // release the row before settling it from another connection
            drop(conn);
            tracing::warn!(reason = %reason, "training cannot start; the model fails and is refunded");
            outcomes::fail_training(services, model, &reason).await?;
            Ok(())
        }
    }
}

enum Attempt {
    Transient(WorkerError),
    Permanent(Permanent),
}

impl From<ReplicateError> for Attempt {
    fn from(e: ReplicateError) -> Self {
        if e.is_transient() {
            Attempt::Transient(e.into())
        } else {
            Attempt::Permanent(Permanent(format!("Replicate refused the training: {e}")))
        }
    }
}

async fn create_training(
    services: &Services,
    replicate: &Replicate,
    model: &Model,
    photos: &[TrainingPhoto],
) -> Result<(String, String), Attempt> {
    if let Err(e) = shared::domain::rules::validate_photo_count(photos.len() as i64) {
        return Err(Attempt::Permanent(Permanent(e.to_string())));
    }
    let zip = zip_photos(services, photos).await?;
    let file = replicate
        .upload_file(
            &format!("model-{}-photos.zip", model.id),
            "application/zip",
            zip,
        )
        .await?;

    let training = &services.config.training;
    let destination = match &training.destination {
        Some(d) => d.clone(),
        None => format!("{}/dream-photo-loras", replicate.account().await?),
    };
    let (owner, name) = destination
        .split_once('/')
        .expect("owner/name, checked in config");
    replicate
        .ensure_model(owner, name, &training.hardware)
        .await?;
    let version = match &training.trainer_version {
        Some(v) => v.clone(),
        None => replicate.latest_version(&training.trainer).await?,
    };
    let webhook = services.config.public_endpoint("/replicate/webhook");
    let input = json!({
        "input_images": file.urls.get,
        "trigger_word": model.trigger_word,
        "steps": training.steps,
        "autocaption": true,
    });
    let job = replicate
        .create_training(
            &training.trainer,
            &version,
            &destination,
            input,
            webhook.as_ref().map(|u| u.as_str()),
        )
        .await?;
    Ok((job.id, destination))
}

/// Downloads every photo and zips them (stored, not deflated: JPEGs do not compress).
async fn zip_photos(services: &Services, photos: &[TrainingPhoto]) -> Result<Vec<u8>, Attempt> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (i, photo) in photos.iter().enumerate() {
        let (bytes, extension) = download(services, photo).await?;
        let zip_err = |e: &dyn std::fmt::Display| {
            Attempt::Permanent(Permanent(format!("zipping the photos failed: {e}")))
        };
        writer
            .start_file(format!("photo-{:02}.{extension}", i + 1), options)
            .map_err(|e| zip_err(&e))?;
        writer.write_all(&bytes).map_err(|e| zip_err(&e))?;
    }
    let cursor = writer
        .finish()
        .map_err(|e| Attempt::Permanent(Permanent(format!("zipping the photos failed: {e}"))))?;
    Ok(cursor.into_inner())
}

async fn download(
    services: &Services,
    photo: &TrainingPhoto,
) -> Result<(Vec<u8>, &'static str), Attempt> {
    let extension = match photo.mime_type.as_deref() {
        Some("image/png") => "png",
        Some("image/webp") => "webp",
        Some("image/heic") => "heic",
        _ => "jpg",
    };
    let url = if let Some(file_id) = &photo.telegram_file_id {
        let telegram = services
            .telegram()
            .map_err(|e| Attempt::Transient(e.into()))?;
        let file = match telegram
            .call(telegram.bot.get_file(file_id.clone().into()))
            .await
        {
            Ok(file) => file,
            Err(e) if e.is_transient() => return Err(Attempt::Transient(e.into())),
            Err(_) => {
                return Err(Attempt::Permanent(Permanent(
                    "a training photo is no longer on Telegram".into(),
                )))
            }
        };
        let token = services
            .config
            .telegram
            .bot_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        services
            .config
            .telegram
            .api_url
            .join(&format!("file/bot{token}/{}", file.path))
            .map_err(|e| Attempt::Permanent(Permanent(format!("bad file path: {e}"))))?
    } else if let Some(url) = &photo.source_url {
        url.parse().map_err(|_| {
            Attempt::Permanent(Permanent("a training photo has a malformed URL".into()))
        })?
    } else {
        return Err(Attempt::Permanent(Permanent(
            "a training photo has no source".into(),
        )));
    };
    // The URL may hold the bot token: errors keep only the kind of failure, never the URL.
    let mut request = services.http.get(url.clone());
    // Files we uploaded through Replicate's files API are served to their owner only.
    if url
        .as_str()
        .starts_with(services.config.replicate.api_url.as_str())
    {
        if let Some(token) = &services.config.replicate.api_token {
            request = request.bearer_auth(token.expose());
        }
    }
    let response = request
        .send()
        .await
        .map_err(|e| Attempt::Transient(WorkerError::Download(e.without_url().to_string())))?;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(Attempt::Transient(WorkerError::Download(format!(
            "HTTP {status}"
        ))));
    }
    if !status.is_success() {
        return Err(Attempt::Permanent(Permanent(format!(
            "a training photo is gone (HTTP {status})"
        ))));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|e| Attempt::Transient(WorkerError::Download(e.without_url().to_string())))?;
    if bytes.len() as i64 > shared::domain::rules::MAX_PHOTO_BYTES {
        return Err(Attempt::Permanent(Permanent(
            "a training photo is larger than 20 MB".into(),
        )));
    }
    Ok((bytes.to_vec(), extension))
}
