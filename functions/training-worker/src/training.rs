//! A queued model becomes a Replicate training: photos downloaded, zipped in memory, uploaded through
//! the files API, the destination model made if missing, the training created with our webhook.
//!
//! Each try is an attempt ([`shared::repo::attempts`]), recorded in a short transaction before any
//! network I/O and tagged in what we send (the webhook URL and the zip's URL), so an answer we never
//! got is settled by finding the training at Replicate, never by starting a second paid one. No row
//! lock or transaction is held while photos download or the zip uploads.

use shared::errors::Transient;
use std::io::Write;

use serde_json::json;
use shared::attempts::{self as settle, Attached};
use shared::db::{Db, DbError};
use shared::domain::status::ModelStatus;
use shared::effects::{delete_file_key, Effect, Written};
use shared::fetch::{self, FetchError, Photo, COULD_NOT_DOWNLOAD};
use shared::outcomes::{self, OutcomeError};
use shared::replicate::{Replicate, ReplicateError};
use shared::repo::attempts::{self, Attempt, Kind};
use shared::repo::models::{self, Model, TrainingPhoto};
use shared::services::{Services, Unavailable};
use shared::storage::{ObjectKey, StorageError};
use shared::telegram::{DownloadError, TelegramError};

/// How long one job may take in one delivery (the worker cancels it after this).
pub const JOB_DEADLINE_SECS: u64 = 240;
/// How long a worker holds its attempt: past the deadline, so an expired lease means its holder is
/// gone (crashed, killed, timed out), never still working.
pub const LEASE_SECS: i64 = JOB_DEADLINE_SECS as i64 + 60;
/// The least lease left for the create call to be made (it may take up to the request timeout).
const CREATE_MARGIN_SECS: i64 = 30;

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
    #[error("getting a photo from Telegram failed")]
    TelegramFile(#[from] DownloadError),
    #[error("object storage failed")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("settling the failed training failed")]
    Outcome(#[from] OutcomeError),
    #[error("another delivery is starting this training")]
    Busy,
    #[error("the job did not finish within {0} s")]
    Deadline(u64),
}

impl WorkerError {
    /// Replicate refused our own credentials: the job waits (long), nobody is refunded.
    pub fn is_refused_us(&self) -> bool {
        matches!(self, WorkerError::Replicate(e) if e.is_auth())
    }

    /// How long Replicate asked us to wait (a throttled call), if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            WorkerError::Replicate(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// Why a training cannot start, ever: the model is failed and refunded.
#[derive(Debug)]
struct Permanent(String);

/// What the short claim transaction found.
enum Claim {
    /// Not queued (started by a duplicate delivery, finished, deleted): done with.
    Skip,
    /// A new attempt, ours to try.
    Fresh(Model, Attempt),
    /// A `starting` attempt whose holder is gone: it may have created a training; look first.
    TakenOver(Model, Attempt),
    /// A `starting` attempt another delivery holds.
    Busy,
    /// A created attempt whose model did not move (repaired by attaching it again).
    Created(Attempt),
}

/// Starts the training of a queued model. A model that is not queued (already started by a duplicate
/// delivery, or deleted) is done with. A transient failure is returned (the caller retries soon); a
/// permanent one fails the model and refunds its tokens.
pub async fn start_training(services: &Services, model_id: i64) -> Result<(), WorkerError> {
    let db = services.db();
    let replicate = services.replicate()?;
    let (model, attempt) = match claim(db, model_id, None).await? {
        Claim::Skip => return Ok(()),
        Claim::Busy => return Err(WorkerError::Busy),
        Claim::Created(attempt) => {
            let id = attempt.replicate_id.clone().unwrap_or_default();
            return attach(services, &attempt, &id).await;
        }
        Claim::TakenOver(model, attempt) => {
            // Its holder died somewhere around the create call: settle it by looking, never by
            // creating again blindly.
            tracing::info!(attempt = %attempt.tag, "an abandoned start found; looking for it at Replicate");
            match settle::find(replicate, &attempt).await {
                Ok(Some(job)) => return attach(services, &attempt, &job.id).await,
                Ok(None) => match claim(db, model.id, Some(&attempt.tag)).await? {
                    Claim::Fresh(model, attempt) => (model, attempt),
                    Claim::Busy | Claim::TakenOver(..) => return Err(WorkerError::Busy),
                    Claim::Created(attempt) => {
                        let id = attempt.replicate_id.clone().unwrap_or_default();
                        return attach(services, &attempt, &id).await;
                    }
                    Claim::Skip => return Ok(()),
                },
                Err(e) => {
                    attempts::release(&**db.conn().await?, &attempt.tag).await?;
                    return Err(e.into());
                }
            }
        }
        Claim::Fresh(model, attempt) => (model, attempt),
    };
    tracing::info!(attempt = %attempt.tag, "starting the training");

    match create_training(services, replicate, &model, &attempt).await {
        Ok(training_id) => attach(services, &attempt, &training_id).await,
        Err(Failure::NotCreated(reason)) => {
            attempts::abandon(&**db.conn().await?, &attempt.tag).await?;
            match reason {
                Problem::Transient(e) => Err(e),
                Problem::Permanent(Permanent(reason)) => {
                    tracing::warn!(reason = %reason, "training cannot start; the model fails and is refunded");
                    outcomes::fail_training(services, model, &reason).await?;
                    Ok(())
                }
            }
        }
        Err(Failure::LeaseLost) => Err(WorkerError::Busy),
        Err(Failure::Unwanted { zip_url }) => {
            // Canceled or erased (and refunded) while its photos were read: nothing starts, and
            // what this try made of the photos goes.
            tracing::info!(
                model_id = model.id,
                "the model was canceled meanwhile; not started"
            );
            attempts::abandon(&**db.conn().await?, &attempt.tag).await?;
            discard(services, &model, zip_url).await
        }
        Err(Failure::Ambiguous(e)) => {
            // Replicate may have taken it: look before deciding.
            tracing::warn!(error = %shared::telemetry::error_chain(&e), "no clear answer to the create call; looking for the training");
            let attempt = attempts::by_tag(&**db.conn().await?, &attempt.tag)
                .await?
                .unwrap_or(attempt);
            match settle::find(replicate, &attempt).await {
                Ok(Some(job)) => attach(services, &attempt, &job.id).await,
                outcome => {
                    // Not listed (yet: a job just taken may take a moment to show), or the lookup
                    // failed too: the lease is given back, and the next delivery, seconds later,
                    // looks again before it starts a fresh attempt.
                    if let Err(lookup) = outcome {
                        tracing::warn!(error = %shared::telemetry::error_chain(&lookup), "the lookup failed too");
                    }
                    attempts::release(&**db.conn().await?, &attempt.tag).await?;
                    Err(e.into())
                }
            }
        }
    }
}

/// In one short transaction: locks the model, checks it is queued, abandons `abandon` (an attempt
/// just found not to exist at Replicate), and records a new attempt or reports the live one.
async fn claim(db: &Db, model_id: i64, abandon: Option<&str>) -> Result<Claim, WorkerError> {
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await.map_err(DbError::from)?;
    let Some(model) = models::get_for_update(&*tx, model_id).await? else {
        tracing::warn!("no such model; nothing to train");
        return Ok(Claim::Skip);
    };
    if let Some(tag) = abandon {
        attempts::abandon(&*tx, tag).await?;
    }
    let live = attempts::live(&*tx, Kind::Training, model.id).await?;
    if model.status != ModelStatus::Queued {
        tracing::info!(
            status = model.status.as_str(),
            "model is not queued; duplicate delivery skipped"
        );
        return Ok(Claim::Skip);
    }
    let claim = match live {
        None => {
            let tag = attempts::new_tag();
            match attempts::start(&*tx, Kind::Training, model.id, &tag, None, LEASE_SECS).await? {
                Some(attempt) => Claim::Fresh(model, attempt),
                None => Claim::Busy,
            }
        }
        Some(attempt) if attempt.state == attempts::State::Created => Claim::Created(attempt),
        Some(attempt) if !attempt.lease_expired() => Claim::Busy,
        Some(attempt) => {
            if attempts::take_over(&*tx, &attempt.tag, LEASE_SECS).await? {
                Claim::TakenOver(model, attempt)
            } else {
                Claim::Busy
            }
        }
    };
    tx.commit().await.map_err(DbError::from)?;
    Ok(claim)
}

/// Attaches the training to its attempt and model; a training nobody wants (the model failed or
/// was canceled meanwhile) is canceled at Replicate.
async fn attach(
    services: &Services,
    attempt: &Attempt,
    training_id: &str,
) -> Result<(), WorkerError> {
    match settle::attach(services, attempt, training_id).await? {
        Attached::Started => tracing::info!(training_id, "training started"),
        Attached::Already => tracing::info!(training_id, "training already attached"),
        Attached::Unwanted => {}
    }
    Ok(())
}

enum Problem {
    Transient(WorkerError),
    Permanent(Permanent),
}

/// How a try at creating the training went wrong.
enum Failure {
    /// Nothing was created at Replicate.
    NotCreated(Problem),
    /// The create call got no answer we can trust: the training may exist.
    Ambiguous(ReplicateError),
    /// Our lease ran out before the create call: someone else may settle the attempt.
    LeaseLost,
    /// The model is no longer queued (canceled, its owner's data erased), with the zip of its
    /// photos if it was uploaded already.
    Unwanted { zip_url: Option<String> },
}

impl From<Problem> for Failure {
    fn from(a: Problem) -> Self {
        Failure::NotCreated(a)
    }
}

impl From<ReplicateError> for Problem {
    fn from(e: ReplicateError) -> Self {
        if e.is_transient() || e.is_auth() {
            Problem::Transient(e.into())
        } else {
            Problem::Permanent(Permanent(format!("Replicate refused the training: {e}")))
        }
    }
}

impl From<ReplicateError> for Failure {
    fn from(e: ReplicateError) -> Self {
        Failure::NotCreated(e.into())
    }
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::NotCreated(Problem::Transient(e.into()))
    }
}

async fn create_training(
    services: &Services,
    replicate: &Replicate,
    model: &Model,
    attempt: &Attempt,
) -> Result<String, Failure> {
    let db = services.db();
    let photos = models::good_photos(&**db.conn().await?, model.id).await?;
    if let Err(e) = shared::domain::rules::validate_photo_count(photos.len() as i64) {
        return Err(Problem::Permanent(Permanent(e.to_string())).into());
    }
    let zip = zip_photos(services, model, &photos).await?;
    // Reading the photos takes a while: an erasure meanwhile must not send them to Replicate.
    if !still_queued(db, model.id).await? {
        return Err(Failure::Unwanted { zip_url: None });
    }
    let file = replicate
        .upload_file(
            &format!("model-{}-{}.zip", model.id, attempt.tag),
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
    // The zip's URL is unique to this attempt: what finds the training without a webhook URL.
    if !attempts::prepare(
        &**db.conn().await?,
        &attempt.tag,
        &file.urls.get,
        Some(&destination),
        CREATE_MARGIN_SECS,
    )
    .await?
    {
        if !still_queued(db, model.id).await? {
            return Err(Failure::Unwanted {
                zip_url: Some(file.urls.get),
            });
        }
        return Err(Failure::LeaseLost);
    }
    let webhook = settle::webhook_url(services, &attempt.tag);
    let input = json!({
        "input_images": file.urls.get,
        "trigger_word": model.trigger_word,
        "steps": training.steps,
        "autocaption": true,
    });
    match replicate
        .create_training(
            &training.trainer,
            &version,
            &destination,
            input,
            webhook.as_ref().map(|u| u.as_str()),
        )
        .await
    {
        Ok(job) => Ok(job.id),
        Err(e) if e.may_have_created() => Err(Failure::Ambiguous(e)),
        Err(e) => Err(e.into()),
    }
}

async fn still_queued(db: &Db, model_id: i64) -> Result<bool, DbError> {
    let model = models::get(&**db.conn().await?, model_id).await?;
    Ok(model.is_some_and(|m| m.status == ModelStatus::Queued))
}

/// Deletes what a try made of a model's photos that is no longer wanted: the copies it kept in our
/// bucket and the zip it uploaded to Replicate, through the effect log (so a failure now is retried).
async fn discard(
    services: &Services,
    model: &Model,
    zip_url: Option<String>,
) -> Result<(), WorkerError> {
    let prefix = shared::storage::model_photos_prefix(model.user_id, model.id);
    let at = chrono::Utc::now().timestamp_millis();
    let mut effects = vec![(
        format!("delete-objects:{prefix}@{at}"),
        Effect::DeleteStoredObjects { prefix },
    )];
    if let Some(url) = zip_url {
        effects.push((delete_file_key(&url), Effect::DeleteReplicateFile { url }));
    }
    let mut written = Written::new();
    let conn = services.db().conn().await?;
    for (key, effect) in &effects {
        written.write(&**conn, key, effect).await?;
    }
    drop(conn);
    shared::dispatch::now(services, written).await;
    Ok(())
}

/// Reads every photo (all of them within the job's download deadline) and zips them (stored, not
/// deflated: JPEGs do not compress).
async fn zip_photos(
    services: &Services,
    model: &Model,
    photos: &[TrainingPhoto],
) -> Result<Vec<u8>, Problem> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deadline = tokio::time::Instant::now() + services.photos.job_timeout;
    for (i, photo) in photos.iter().enumerate() {
        let downloaded = kept_photo(services, model, photo, deadline).await?;
        let zip_err = |e: &dyn std::fmt::Display| {
            Problem::Permanent(Permanent(format!("zipping the photos failed: {e}")))
        };
        writer
            .start_file(
                format!("photo-{:02}.{}", i + 1, downloaded.kind.extension()),
                options,
            )
            .map_err(|e| zip_err(&e))?;
        writer
            .write_all(&downloaded.bytes)
            .map_err(|e| zip_err(&e))?;
    }
    let cursor = writer
        .finish()
        .map_err(|e| Problem::Permanent(Permanent(format!("zipping the photos failed: {e}"))))?;
    Ok(cursor.into_inner())
}

/// A training photo from our bucket; one that is not there yet (sent to the bot, or given as a URL)
/// is downloaded once and copied in first, so a retry reads our copy.
async fn kept_photo(
    services: &Services,
    model: &Model,
    photo: &TrainingPhoto,
    deadline: tokio::time::Instant,
) -> Result<Photo, Problem> {
    let storage = services
        .storage()
        .map_err(|e| Problem::Transient(e.into()))?;
    let storage_problem = |e: StorageError| {
        if e.is_transient() {
            Problem::Transient(e.into())
        } else {
            Problem::Permanent(Permanent(format!(
                "a training photo could not be read: {e}"
            )))
        }
    };
    let has_other_source = photo.telegram_file_id.is_some() || photo.source_url.is_some();
    if let Some(key) = photo.storage_key.as_deref().and_then(ObjectKey::parse) {
        match storage.get(&key).await {
            Ok(bytes) => {
                let kind = shared::domain::rules::sniff_image(&bytes).ok_or_else(|| {
                    Problem::Permanent(Permanent("a training photo is not an image".into()))
                })?;
                return Ok(Photo {
                    bytes: bytes.to_vec(),
                    kind,
                });
            }
            // Our copy is gone but the photo's source is not: copied again below.
            Err(StorageError::NotFound(_)) if has_other_source => {}
            Err(e) => return Err(storage_problem(e)),
        }
    }
    let downloaded = download(services, photo, deadline).await?;
    let key = ObjectKey::training_photo(
        model.user_id,
        model.id,
        &photo.id.to_string(),
        downloaded.kind,
    );
    storage
        .put(&key, downloaded.bytes.clone(), downloaded.kind.mime_type())
        .await
        .map_err(storage_problem)?;
    let db = services.db();
    models::set_photo_storage_key(
        &**db.conn().await.map_err(|e| Problem::Transient(e.into()))?,
        photo.id,
        key.as_str(),
    )
    .await
    .map_err(|e| Problem::Transient(e.into()))?;
    Ok(downloaded)
}

/// Where a photo comes from.
enum Source {
    /// Telegram's file URL (it holds the bot token: never logged).
    Telegram(url::Url),
    /// A file we uploaded through Replicate's files API (served to its owner, with our token).
    Ours(url::Url),
    /// A URL a user gave us: fetched only through the guarded fetcher.
    User(url::Url),
}

/// Downloads one photo before `deadline` (and its own, shorter deadline). A failure that is the
/// photo's (gone, refused, too large, not an image) is permanent and told to the user in a fixed
/// text; what the source said goes to the logs only.
async fn download(
    services: &Services,
    photo: &TrainingPhoto,
    deadline: tokio::time::Instant,
) -> Result<Photo, Problem> {
    let source = source(services, photo).await?;
    let photo_deadline = deadline.min(tokio::time::Instant::now() + services.photos.photo_timeout);
    let fetched = match &source {
        Source::User(url) => services.photos.fetch(url, deadline).await,
        Source::Telegram(url) | Source::Ours(url) => {
            let mut request = services.http.get(url.clone());
            if let (Source::Ours(_), Some(token)) = (&source, &services.config.replicate.api_token)
            {
                request = request.bearer_auth(token.expose());
            }
            match tokio::time::timeout_at(photo_deadline, request.send()).await {
                Err(_) => Err(FetchError::Timeout),
                Ok(Err(e)) => Err(if e.is_timeout() {
                    FetchError::Timeout
                } else {
                    FetchError::Broken(e.without_url().to_string())
                }),
                Ok(Ok(response)) => fetch::read_photo(response, photo_deadline).await,
            }
        }
    };
    fetched.map_err(|e| {
        let (from, host) = match &source {
            Source::Telegram(_) => ("telegram", None),
            Source::Ours(_) => ("replicate", None),
            Source::User(url) => ("user", url.host_str().map(str::to_owned)),
        };
        if e.is_transient() {
            tracing::warn!(photo_id = photo.id, source = from, host = ?host, error = %e, "a training photo could not be downloaded for now");
            Problem::Transient(WorkerError::Download(e.to_string()))
        } else {
            tracing::warn!(photo_id = photo.id, source = from, host = ?host, error = %e, "a training photo cannot be downloaded");
            Problem::Permanent(Permanent(e.user_text().to_owned()))
        }
    })
}

async fn source(services: &Services, photo: &TrainingPhoto) -> Result<Source, Problem> {
    if let Some(file_id) = &photo.telegram_file_id {
        let telegram = services
            .telegram()
            .map_err(|e| Problem::Transient(e.into()))?;
        let url = match telegram.file_url(file_id).await {
            Ok(url) => url,
            Err(e) if e.is_transient() => return Err(Problem::Transient(e.into())),
            Err(_) => {
                return Err(Problem::Permanent(Permanent(
                    "a training photo is no longer on Telegram".into(),
                )))
            }
        };
        return Ok(Source::Telegram(url));
    }
    let Some(raw) = &photo.source_url else {
        return Err(Problem::Permanent(Permanent(
            "a training photo has no source".into(),
        )));
    };
    let url: url::Url = raw
        .parse()
        .map_err(|_| Problem::Permanent(Permanent(COULD_NOT_DOWNLOAD.into())))?;
    Ok(if is_our_replicate_file(services, &url) {
        Source::Ours(url)
    } else {
        Source::User(url)
    })
}

/// A file we uploaded through Replicate's files API: under our Replicate API URL (same scheme,
/// host and port, and path prefix); the API refuses such URLs from users.
fn is_our_replicate_file(services: &Services, url: &url::Url) -> bool {
    let api = &services.config.replicate.api_url;
    url.origin() == api.origin() && url.path().starts_with(api.path())
}
