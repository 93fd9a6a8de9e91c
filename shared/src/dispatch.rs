//! Executing the effect log ([`crate::effects`]): at once after the commit that wrote an effect
//! ([`now`]), and from the sweep for whatever is left ([`drain`]).
//!
//! Each execution takes the row under a lease, so two dispatchers never run one effect at once.
//! Transient failures are tried again with backoff (a few quick tries inline, then from the sweep),
//! up to [`MAX_ATTEMPTS`]; a permanent failure is recorded and told to the admins; our own
//! credentials refused (or a part not configured) pause the effect without using up its attempts.
//! What a remote answered (Telegram's message ids) is kept with the effect, so a sent effect is
//! known as sent and never sent again.

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use teloxide_core::payloads::{
    DeleteMyCommandsSetters, EditMessageTextSetters, SendMediaGroupSetters, SendMessageSetters,
    SendPhotoSetters, SetMyCommandsSetters,
};
use teloxide_core::requests::Requester;
use teloxide_core::types::{
    BotCommandScope, ChatId, InputFile, InputMedia, InputMediaPhoto, Message, MessageId, ParseMode,
    Recipient,
};

use crate::db::{DbError, GenericClient};
use crate::domain::lang::Lang;
use crate::domain::progress::Tracked;
use crate::domain::status::GenerationStatus;
use crate::effects::{backoff, AdminNotice, Effect, Notice, Tried, Written, MAX_ATTEMPTS};
use crate::errors::Transient;
use crate::fetch::{read_photo, FetchError};
use crate::metrics::{self, ErrorKind, Remote};
use crate::notify;
use crate::notify::commands::{self, MenuRole};
use crate::queue::{QueueError, TrainingJob};
use crate::replicate::ReplicateError;
use crate::repo::effects as log;
use crate::repo::{admins, generations, models, payments, progress, users};
use crate::services::{Services, Unavailable};
use crate::storage::{ObjectKey, StorageError};
use crate::telegram::{Telegram, TelegramError};
use crate::telemetry::error_chain;
use crate::transitions::{self, Opening, TransitionError};
use tracing::Instrument;

/// How long an executor owns an effect it took (longer than any one execution).
const LEASE_SECONDS: i64 = 120;
/// Quick tries inside the dispatching invocation, for failures that pass in moments.
const INLINE_TRIES: u32 = 3;
/// The longest wait sat out inline; a longer one leaves the effect for the sweep.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(3);
/// How long one drain starts new effects (the scheduled run's Lambda has 300 s, the sweep too).
const DRAIN_BUDGET: Duration = Duration::from_secs(120);
/// Our own credentials refused, or a part not configured: the effect waits this long, uncounted.
const PAUSE: Duration = Duration::from_secs(300);

/// Executes effects written by a transaction that committed. Never fails: what does not succeed
/// now stays in the log for the sweep.
pub async fn now(services: &Services, written: Written) {
    let (ids, taken) = written.into_parts();
    for id in ids {
        // Boxed: an executor may dispatch the effects it causes, and the nested futures get deep.
        if let Err(e) = Box::pin(run(services, id, INLINE_TRIES)).await {
            tracing::warn!(effect_id = id, error = %error_chain(&e), "effect left for the sweep");
        }
    }
    for row in taken {
        let (id, span) = (row.id, effect_span(&row));
        let ran = Box::pin(run_taken(services, row, INLINE_TRIES, First::Execute).instrument(span));
        if let Err(e) = ran.await {
            tracing::warn!(effect_id = id, error = %error_chain(&e), "effect left for the sweep");
        }
    }
}

fn effect_span(row: &log::EffectRow) -> tracing::Span {
    tracing::info_span!("effect", effect_id = row.id, key = %row.dedupe_key)
}

/// Executes what [`transitions::results_arrived`] wrote: the album's first try with the generation
/// and its owner as that transaction read them. Never fails, as [`now`].
pub async fn deliver(services: &Services, arrived: transitions::Arrived) {
    let transitions::Arrived {
        written,
        generation,
        owner,
        progress,
    } = arrived;
    let (ids, taken) = written.into_parts();
    Box::pin(now(services, Written::from_ids(ids))).await;
    let generation_id = generation.id;
    let mut read = Some(Box::new(Read {
        generation,
        owner,
        progress,
    }));
    for row in taken {
        let first = match read.take() {
            Some(read) if is_delivery_of(&row, generation_id) => First::Read(read),
            other => {
                read = other;
                First::Execute
            }
        };
        let (id, span) = (row.id, effect_span(&row));
        let ran = Box::pin(run_taken(services, row, INLINE_TRIES, first).instrument(span));
        if let Err(e) = ran.await {
            tracing::warn!(effect_id = id, error = %error_chain(&e), "effect left for the sweep");
        }
    }
}

/// What the transaction that wrote an album's effect read for its first try: the generation, its
/// owner and its status message's row.
struct Read {
    generation: generations::Generation,
    owner: Option<users::User>,
    progress: Option<progress::JobProgress>,
}

fn is_delivery_of(row: &log::EffectRow, generation_id: i64) -> bool {
    matches!(
        serde_json::from_value(row.payload.clone()),
        Ok(Effect::DeliverGeneration { generation_id: id }) if id == generation_id
    )
}

/// What [`drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Drained {
    pub done: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Executes due effects (pending ones whose time has come, and leased ones whose executor died),
/// at most `limit`, oldest due first.
pub async fn drain(services: &Services, limit: i64) -> Result<Drained, DbError> {
    let db = services.db();
    let due = log::due(&**db.conn().await?, limit).await?;
    let mut drained = Drained::default();
    let started = std::time::Instant::now();
    for id in due {
        // An effect can take seconds (teloxide sits out 10 s after a Bot API 5xx): what does not
        // fit this run's budget is left for the next, never cut off half-way by the Lambda timeout.
        if started.elapsed() > DRAIN_BUDGET {
            break;
        }
        match Box::pin(run(services, id, 1)).await {
            Ok(Some(Settled::Done)) => drained.done += 1,
            Ok(Some(Settled::Retrying)) => drained.retrying += 1,
            Ok(Some(Settled::Failed)) => drained.failed += 1,
            Ok(None) => {}
            Err(e) => {
                drained.retrying += 1;
                tracing::warn!(effect_id = id, error = %error_chain(&e), "effect not settled");
            }
        }
    }
    Ok(drained)
}

/// How an execution ended, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Done,
    Retrying,
    Failed,
}

/// Why an execution did not succeed, classified for what to do next.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// Worth trying again (network, the remote's 5xx or rate limit, our database).
    #[error("{error}")]
    Transient {
        error: String,
        retry_after: Option<Duration>,
    },
    /// The work must wait for us (our credentials refused, a part not configured): tried again
    /// later without using up its attempts.
    #[error("{0}")]
    Paused(String),
    /// Will never succeed.
    #[error("{0}")]
    Permanent(String),
}

impl From<DbError> for Failure {
    fn from(e: DbError) -> Self {
        Failure::Transient {
            error: error_chain(&e),
            retry_after: None,
        }
    }
}

/// Takes effect `id` (if due and not owned by a live executor), executes it with up to `tries`
/// quick tries, and settles it in the log.
async fn run(services: &Services, id: i64, tries: u32) -> Result<Option<Settled>, DbError> {
    let db = services.db();
    let Some(row) = log::take(&**db.conn().await?, id, LEASE_SECONDS).await? else {
        return Ok(None);
    };
    let span = effect_span(&row);
    run_taken(services, row, tries, First::Execute)
        .instrument(span)
        .await
}

/// How the first try of a taken effect begins.
enum First {
    /// As any: the executor reads what it needs.
    Execute,
    /// It was made elsewhere and failed (quickly, or not): it counts as the first of the tries.
    Failed(Failure, bool),
    /// With what the transaction that wrote it read for it (later tries read afresh).
    Read(Box<Read>),
}

/// Executes a taken effect as [`run`] does, its first try as `first` says.
async fn run_taken(
    services: &Services,
    row: log::EffectRow,
    tries: u32,
    first: First,
) -> Result<Option<Settled>, DbError> {
    let mut first = Some(first);
    let db = services.db();
    let effect: Effect = match serde_json::from_value(row.payload.clone()) {
        Ok(effect) => effect,
        Err(e) => {
            let error = format!("unreadable effect: {e}");
            settle_failed(services, &row, None, &error).await?;
            return Ok(Some(Settled::Failed));
        }
    };
    let mut tried = 0;
    loop {
        tried += 1;
        let read = match first.take() {
            Some(First::Failed(failure, quick)) => Err((failure, quick)),
            Some(First::Read(read)) => Ok(Some(read)),
            Some(First::Execute) | None => Ok(None),
        };
        let (failure, quick) = match read {
            Err(first) => first,
            Ok(read) => {
                let started = std::time::Instant::now();
                let outcome = execute(services, &row, &effect, read).await;
                // A failure that already took a while (teloxide sits out 10 s after a Bot API 5xx)
                // is not tried again inline: the invocation's time is the user's.
                let quick = started.elapsed() <= MAX_INLINE_WAIT;
                match outcome {
                    Ok(Executed::Result(result)) => {
                        // It happened: recording that is retried here, or the lease running out
                        // would have it happen again.
                        record_done(db, row.id, &result).await?;
                        return Ok(Some(Settled::Done));
                    }
                    Ok(Executed::Recorded) => return Ok(Some(Settled::Done)),
                    Err(failure) => (failure, quick),
                }
            }
        };
        let conn = db.conn().await?;
        match failure {
            Failure::Transient { error, retry_after } => {
                let wait = retry_after.unwrap_or(Duration::from_millis(300 * u64::from(tried)));
                if tried < tries && quick && wait <= MAX_INLINE_WAIT {
                    drop(conn);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                if row.attempts >= MAX_ATTEMPTS && !effect.retried_until_answered() {
                    drop(conn);
                    let error = format!("gave up after {} attempts: {error}", row.attempts);
                    settle_failed(services, &row, Some(&effect), &error).await?;
                    return Ok(Some(Settled::Failed));
                }
                let after = retry_after.unwrap_or_default().max(backoff(row.attempts));
                tracing::warn!(error = %error, retry_in_secs = after.as_secs(), "effect will be tried again");
                log::retry_later(&**conn, row.id, after.as_secs_f64(), &error, true).await?;
                return Ok(Some(Settled::Retrying));
            }
            Failure::Paused(error) => {
                tracing::error!(error = %error, "effect paused: our side must be fixed");
                log::retry_later(&**conn, row.id, PAUSE.as_secs_f64(), &error, false).await?;
                return Ok(Some(Settled::Retrying));
            }
            Failure::Permanent(error) => {
                drop(conn);
                settle_failed(services, &row, Some(&effect), &error).await?;
                return Ok(Some(Settled::Failed));
            }
        }
    }
}

async fn record_done(db: &crate::db::Db, id: i64, result: &Value) -> Result<(), DbError> {
    let record = move || async move { log::finish(&**db.conn().await?, id, result).await };
    with_patience(record, |_| true).await
}

/// Tries `record` (writing down what already happened outside: a message sent, an album out)
/// again while it fails as `again` allows, for [`RECORD_PATIENCE`], the pause doubling: a
/// database back within it has the effect happen once; given up, it happens again when its lease
/// runs out.
async fn with_patience<
    T,
    E: std::error::Error + 'static,
    F: std::future::Future<Output = Result<T, E>>,
>(
    mut record: impl FnMut() -> F,
    again: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        match record().await {
            Err(e) if again(&e) && started.elapsed() + pause <= RECORD_PATIENCE => {
                tracing::warn!(error = %error_chain(&e), "recording what was done failed; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(4));
            }
            recorded => return recorded,
        }
    }
}

/// Records a permanent failure and tells the admins (unless it was a notice to them that failed).
async fn settle_failed(
    services: &Services,
    row: &log::EffectRow,
    effect: Option<&Effect>,
    error: &str,
) -> Result<(), DbError> {
    tracing::error!(error = %error, "effect failed for good");
    let db = services.db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    log::fail(&*tx, row.id, error).await?;
    let mut written = Written::new();
    if !matches!(effect, Some(Effect::TellAdmins { .. }) | None) {
        written
            .write(
                &*tx,
                &format!("effect-failed:{}", row.id),
                &Effect::TellAdmins {
                    notice: AdminNotice::EffectFailed {
                        effect_id: row.id,
                        dedupe_key: row.dedupe_key.clone(),
                        error: error.to_owned(),
                    },
                },
            )
            .await?;
    }
    tx.commit().await?;
    drop(conn);
    Box::pin(now(services, written)).await;
    Ok(())
}

/// What an executor keeps of a skipped effect.
fn skipped(why: &str) -> Value {
    json!({ "skipped": why })
}

impl From<Unavailable> for Failure {
    fn from(e: Unavailable) -> Self {
        Failure::Paused(e.to_string())
    }
}

impl From<TelegramError> for Failure {
    fn from(e: TelegramError) -> Self {
        let failure = telegram_failure(e);
        let kind = match &failure {
            Failure::Transient { .. } => ErrorKind::Transient,
            Failure::Paused(_) => ErrorKind::Auth,
            Failure::Permanent(_) => ErrorKind::Permanent,
        };
        metrics::remote_error(Remote::Telegram, kind);
        failure
    }
}

/// Telegram's errors: a rate limit transient with its wait, our bot token refused paused, the rest as
/// [`Transient`] says.
fn telegram_failure(e: TelegramError) -> Failure {
    match e {
        TelegramError::RateLimited(wait) => Failure::Transient {
            error: e.to_string(),
            retry_after: Some(wait),
        },
        TelegramError::Request(teloxide_core::RequestError::Api(
            teloxide_core::ApiError::InvalidToken,
        )) => Failure::Paused(format!(
            "Telegram refused our bot token: {}",
            error_chain(&e)
        )),
        e if e.is_transient() => Failure::Transient {
            error: error_chain(&e),
            retry_after: None,
        },
        e => Failure::Permanent(error_chain(&e)),
    }
}

/// What an execution did.
enum Executed {
    /// This is what the remote answered: the effect is done with it.
    Result(Value),
    /// Done, and recorded so already (with the change it made).
    Recorded,
}

async fn execute(
    services: &Services,
    row: &log::EffectRow,
    effect: &Effect,
    read: Option<Box<Read>>,
) -> Result<Executed, Failure> {
    let result = match effect {
        Effect::Notify { user_id, notice } => notify_user(services, *user_id, notice).await,
        Effect::TellAdmins { notice } => tell_admins(services, notice).await,
        Effect::DeliverGeneration { generation_id } => {
            return deliver_generation(services, row.id, *generation_id, read).await;
        }
        Effect::QueueTraining { model_id } => {
            match services
                .queue
                .send(TrainingJob {
                    model_id: *model_id,
                })
                .await
            {
                Ok(()) => Ok(json!({ "queued": true })),
                Err(e @ QueueError::NotConfigured) => Err(Failure::Paused(e.to_string())),
                Err(e) if e.is_transient() => Err(Failure::Transient {
                    error: e.to_string(),
                    retry_after: None,
                }),
                Err(e) => Err(Failure::Permanent(e.to_string())),
            }
        }
        Effect::DeleteReplicateVersion { version } => {
            delete_replicate_version(services, version).await
        }
        Effect::DeleteReplicateFile { url } => delete_replicate_file(services, url).await,
        Effect::DeleteStoredObjects { prefix } => {
            let deleted = services
                .storage()?
                .delete_prefix(prefix)
                .await
                .map_err(storage_failure)?;
            Ok(json!({ "deleted_objects": deleted }))
        }
        Effect::CancelTraining { training_id } => cancel_training(services, training_id).await,
        Effect::CancelPrediction { prediction_id } => {
            cancel_prediction(services, prediction_id).await
        }
        Effect::RefreshCommands { user_id } => refresh_commands(services, *user_id).await,
        Effect::ShowProgress { job, open } => show_progress(services, *job, *open).await,
        Effect::EndProgress { job } => end_progress(services, *job).await,
        Effect::RefundStarPayment {
            payment_id,
            attempt,
        } => refund_star_payment(services, *payment_id, *attempt).await,
    };
    result.map(Executed::Result)
}

/// Sets (or deletes) a user's own command menu as their role and language are now.
async fn refresh_commands(services: &Services, user_id: i64) -> Result<Value, Failure> {
    let (user, admin) = {
        let db = services.db();
        let conn = db.conn().await?;
        let user = users::get(&**conn, user_id).await?;
        (user, admins::is_admin(&**conn, user_id).await?)
    };
    let lang = user
        .as_ref()
        .map_or(Lang::from_code(None), users::User::lang);
    let chose = user.as_ref().is_some_and(|u| u.language.is_some());
    let role = if services.config.is_admin(user_id) {
        Some(MenuRole::Owner)
    } else if admin {
        Some(MenuRole::Admin)
    } else if chose {
        Some(MenuRole::User)
    } else {
        None
    };
    let telegram = services.telegram()?;
    let scope = BotCommandScope::Chat {
        chat_id: Recipient::Id(ChatId(user_id)),
    };
    let result = match role {
        Some(role) => {
            let request = telegram
                .bot
                .set_my_commands(commands::role_menu(lang, role))
                .scope(scope);
            telegram
                .call(request)
                .await
                .map(|_| json!({ "menu": format!("{role:?}").to_lowercase(), "lang": lang.code() }))
        }
        None => {
            let request = telegram.bot.delete_my_commands().scope(scope);
            telegram
                .call(request)
                .await
                .map(|_| json!({ "menu": "default" }))
        }
    };
    match result {
        Ok(done) => Ok(done),
        // A chat the bot cannot reach has no menu to keep right, nor has one the person never
        // opened (they met us in the Mini App only): Telegram applies it when there is one.
        Err(TelegramError::Blocked) => Ok(skipped("the user blocked the bot")),
        Err(TelegramError::Request(teloxide_core::RequestError::Api(
            teloxide_core::ApiError::ChatNotFound,
        ))) => Ok(skipped("no chat with the bot yet")),
        Err(e) => Err(e.into()),
    }
}

/// Whether Telegram says the message is no longer there to edit or delete (its owner deleted it,
/// or it is too old), which ends what we wanted of it rather than failing.
fn message_gone(e: &TelegramError) -> bool {
    use teloxide_core::{ApiError, RequestError};
    matches!(
        e,
        TelegramError::Request(RequestError::Api(
            ApiError::MessageToEditNotFound
                | ApiError::MessageCantBeEdited
                | ApiError::MessageToDeleteNotFound
                | ApiError::MessageCantBeDeleted
        ))
    )
}

/// Sends (`open`) or edits a job's status message with the progress last recorded. Every edit
/// shows the latest progress, so one that runs late or twice shows nothing stale; none runs once
/// the job settled (its status message is deleted then).
async fn show_progress(services: &Services, job: Tracked, open: bool) -> Result<Value, Failure> {
    use teloxide_core::{ApiError, RequestError};
    let db = services.db();
    let (row, user, about) = {
        // The progress, its user and its job, in one round trip.
        let conn = db.conn().await?;
        let about = async {
            Ok::<_, DbError>(match job {
                Tracked::Training { model_id } => models::get(&**conn, model_id)
                    .await?
                    .map(|m| notify::ProgressOf::Training { name: m.name }),
                Tracked::Generation { generation_id } => generations::get(&**conn, generation_id)
                    .await?
                    .map(|g| notify::ProgressOf::Generation {
                        images: g.num_images,
                    }),
            })
        };
        let (row, user, about) = tokio::join!(
            progress::get(&**conn, job),
            users::tracking(&**conn, job),
            about
        );
        let Some(row) = row? else {
            return Ok(skipped("not tracked"));
        };
        if row.settled_at.is_some() {
            return Ok(skipped("the job settled"));
        }
        (row, user?, about?)
    };
    let (Some(user), Some(about)) = (user, about) else {
        return Ok(skipped("no such job"));
    };
    if user.bot_blocked {
        return Ok(skipped("the user blocked the bot"));
    }
    let telegram = services.telegram()?;
    let text = notify::progress_text(&user, &about, row.progress().as_ref());
    let Some(message_id) = row.message_id else {
        if !open {
            // Not sent yet: the message, when it is, shows the latest progress.
            return Ok(skipped("no status message yet"));
        }
        let request = telegram
            .bot
            .send_message(ChatId(user.id), text)
            .parse_mode(ParseMode::Html);
        return match telegram.call(request).await {
            Ok(message) => {
                let id = i64::from(message.id.0);
                if !progress::set_message(&**db.conn().await?, job, id).await? {
                    // The job settled while it was sent: it must not stay behind.
                    let _ = telegram
                        .call(telegram.bot.delete_message(ChatId(user.id), message.id))
                        .await;
                    return Ok(json!({ "message_ids": [id], "deleted": true }));
                }
                Ok(json!({ "message_ids": [id] }))
            }
            Err(TelegramError::Blocked) => {
                users::mark_bot_blocked(&**db.conn().await?, user.id).await?;
                Ok(skipped("the user blocked the bot"))
            }
            Err(e) => Err(e.into()),
        };
    };
    let request = telegram
        .bot
        .edit_message_text(ChatId(user.id), MessageId(message_id as i32), text)
        .parse_mode(ParseMode::Html);
    match telegram.call(request).await {
        Ok(_) => Ok(json!({ "edited": message_id })),
        Err(TelegramError::Request(RequestError::Api(ApiError::MessageNotModified))) => {
            Ok(json!({ "edited": message_id, "unchanged": true }))
        }
        Err(e) if message_gone(&e) => {
            progress::forget_message(&**db.conn().await?, job, message_id).await?;
            Ok(skipped("the status message is gone"))
        }
        Err(TelegramError::Blocked) => Ok(skipped("the user blocked the bot")),
        Err(e) => Err(e.into()),
    }
}

/// A status message of [`open`] after its send: to record, then settle.
#[derive(Debug)]
pub struct Opened {
    row: log::EffectRow,
    job: Tracked,
    outcome: Result<Shown, Failure>,
    /// Whether a failure came quickly (a slow one is not tried again inline).
    quick: bool,
}

#[derive(Debug)]
enum Shown {
    /// Sent to this chat: the message id is recorded with the effect's completion.
    Message { chat: i64, id: i64 },
    /// Nothing to send; what the effect keeps says why.
    Done(Value),
}

/// Sends a new job's first status message, its effect written already taken by the transaction
/// that started the job, and the user it goes to read in that transaction
/// ([`transitions::track_taken`]): no take and no read before it, and what Telegram answered is
/// recorded with the caller's next statements ([`Opened::record`]). If the caller dies before
/// that, the effect's lease runs out and the sweep shows it like any [`Effect::ShowProgress`]: the
/// message is kept once (sent again only if Telegram took it and its id was never recorded).
pub async fn open(services: &Services, opening: Opening) -> Opened {
    let started = std::time::Instant::now();
    let outcome = show_opening(services, &opening).await;
    Opened {
        quick: started.elapsed() <= MAX_INLINE_WAIT,
        row: opening.row,
        job: opening.job,
        outcome,
    }
}

/// What [`show_progress`] does for a job just started: nothing reported, no message yet (the
/// database only if the user blocked the bot).
async fn show_opening(services: &Services, opening: &Opening) -> Result<Shown, Failure> {
    let Some(user) = &opening.user else {
        return Ok(Shown::Done(skipped("no such job")));
    };
    if user.bot_blocked {
        return Ok(Shown::Done(skipped("the user blocked the bot")));
    }
    let telegram = services.telegram()?;
    let text = notify::progress_text(user, &opening.about, None);
    let request = telegram
        .bot
        .send_message(ChatId(user.id), text)
        .parse_mode(ParseMode::Html);
    match telegram.call(request).await {
        Ok(message) => Ok(Shown::Message {
            chat: user.id,
            id: i64::from(message.id.0),
        }),
        Err(TelegramError::Blocked) => {
            users::mark_bot_blocked(&**services.db().conn().await?, user.id).await?;
            Ok(Shown::Done(skipped("the user blocked the bot")))
        }
        Err(e) => Err(e.into()),
    }
}

impl Opened {
    /// Records a sent message: its id kept for the edits and the deletion, and the effect done,
    /// as statements to join with the caller's in one transaction (the two commit together, so an
    /// effect done always has its message kept). `Some(false)`: the job settled meanwhile (or
    /// another message was kept), and [`Opened::settle`] deletes this one; `None`: nothing was sent.
    pub async fn record(&self, db: &impl GenericClient) -> Result<Option<bool>, DbError> {
        let Ok(Shown::Message { id, .. }) = self.outcome else {
            return Ok(None);
        };
        let result = json!({ "message_ids": [id] });
        let (kept, finished) = tokio::join!(
            progress::set_message(db, self.job, id),
            log::finish(db, self.row.id, &result),
        );
        finished?;
        Ok(Some(kept?))
    }

    /// Settles the effect: `recorded` is what [`Opened::record`] answered in a transaction that
    /// committed, else `None` (it was not run, or its transaction did not commit), and then the
    /// record is made here. A message sent for a job that settled meanwhile is deleted; a send that
    /// failed is tried again as any effect is. Never fails: what is not settled now is the sweep's
    /// once the lease runs out.
    pub async fn settle(self, services: &Services, recorded: Option<bool>) {
        let span =
            tracing::info_span!("effect", effect_id = self.row.id, key = %self.row.dedupe_key);
        let id = self.row.id;
        if let Err(e) = self.settled(services, recorded).instrument(span).await {
            tracing::warn!(effect_id = id, error = %error_chain(&e), "effect left for the sweep");
        }
    }

    async fn settled(self, services: &Services, recorded: Option<bool>) -> Result<(), DbError> {
        let db = services.db();
        let (chat, message_id) = match self.outcome {
            Ok(Shown::Message { chat, id }) => (chat, id),
            Ok(Shown::Done(value)) => return record_done(db, self.row.id, &value).await,
            Err(failure) => {
                let first = First::Failed(failure, self.quick);
                return run_taken(services, self.row, INLINE_TRIES, first)
                    .await
                    .map(|_| ());
            }
        };
        let kept = match recorded {
            Some(kept) => kept,
            None => {
                let kept = progress::set_message(&**db.conn().await?, self.job, message_id).await?;
                if kept {
                    record_done(db, self.row.id, &json!({ "message_ids": [message_id] })).await?;
                }
                kept
            }
        };
        if kept {
            return Ok(());
        }
        // The job settled while it was sent: the message must not stay behind.
        if let Ok(telegram) = services.telegram() {
            let request = telegram
                .bot
                .delete_message(ChatId(chat), MessageId(message_id as i32));
            let _ = telegram.call(request).await;
        }
        let result = json!({ "message_ids": [message_id], "deleted": true });
        record_done(db, self.row.id, &result).await
    }
}

/// Deletes a settled job's status message (the ready, failed or album message says the rest).
async fn end_progress(services: &Services, job: Tracked) -> Result<Value, Failure> {
    let row = progress::get(&**services.db().conn().await?, job).await?;
    end_read_progress(services, row).await
}

/// [`end_progress`] with its progress row read.
async fn end_read_progress(
    services: &Services,
    row: Option<progress::JobProgress>,
) -> Result<Value, Failure> {
    let Some(row) = row else {
        return Ok(skipped("not tracked"));
    };
    let Some(message_id) = row.message_id else {
        return Ok(skipped("no status message"));
    };
    let telegram = services.telegram()?;
    let request = telegram
        .bot
        .delete_message(ChatId(row.user_id), MessageId(message_id as i32));
    match telegram.call(request).await {
        Ok(_) => Ok(json!({ "deleted": message_id })),
        Err(e) if message_gone(&e) => Ok(skipped("the status message is gone")),
        Err(TelegramError::Blocked) => Ok(skipped("the user blocked the bot")),
        Err(e) => Err(e.into()),
    }
}

/// Asks Telegram to refund a Stars payment whose tokens were taken back. Confirmed, the payment is
/// refunded and its owner told; refused for good, the tokens are returned and the admins told why.
/// Telegram saying it was refunded already counts as done.
async fn refund_star_payment(
    services: &Services,
    payment_id: i64,
    attempt: i32,
) -> Result<Value, Failure> {
    use teloxide_core::types::{TelegramTransactionId, UserId};
    let db = services.db();
    let Some(payment) = payments::get(&**db.conn().await?, payment_id).await? else {
        return Ok(skipped("no such payment"));
    };
    if payment.status != payments::REFUND_PENDING || payment.refund_attempts != attempt {
        return Ok(skipped("the refund is no longer pending"));
    }
    let telegram = services.telegram()?;
    let request = telegram.bot.refund_star_payment(
        UserId(payment.user_id as u64),
        TelegramTransactionId(payment.telegram_charge_id.clone()),
    );
    let refused = match telegram.call(request).await {
        Ok(_) => None,
        Err(e) => match Failure::from(e) {
            Failure::Permanent(error) if error.contains("CHARGE_ALREADY_REFUNDED") => None,
            Failure::Permanent(error) => Some(error),
            other => return Err(other),
        },
    };
    let written = match &refused {
        None => transitions::refund_confirmed(db, payment.id, attempt).await,
        Some(error) => transitions::refund_refused(db, payment.id, attempt, error).await,
    }
    .map_err(transition_failure)?;
    Box::pin(now(services, written.unwrap_or_default())).await;
    Ok(match refused {
        None => json!({ "refunded": payment.telegram_charge_id }),
        Some(error) => json!({ "refused": error }),
    })
}

/// Replicate's errors, classified like the other executors': network, 5xx and 429 transient (with
/// Replicate's `Retry-After`), our token refused (401/403) paused, any other 4xx permanent. (A 404
/// never gets here: what is gone counts as deleted.)
fn replicate_failure(e: ReplicateError) -> Failure {
    if e.is_auth() {
        // Our credentials refused: the alarm on this metric calls a person.
        metrics::remote_error(Remote::Replicate, ErrorKind::Auth);
        Failure::Paused(format!("Replicate refused our API token: {e}"))
    } else if e.is_transient() {
        metrics::remote_error(Remote::Replicate, ErrorKind::Transient);
        Failure::Transient {
            retry_after: e.retry_after(),
            error: e.to_string(),
        }
    } else {
        metrics::remote_error(Remote::Replicate, ErrorKind::Permanent);
        Failure::Permanent(e.to_string())
    }
}

fn storage_failure(e: StorageError) -> Failure {
    if e.is_transient() {
        Failure::Transient {
            error: error_chain(&e),
            retry_after: None,
        }
    } else {
        Failure::Permanent(error_chain(&e))
    }
}

async fn delete_replicate_version(services: &Services, version: &str) -> Result<Value, Failure> {
    let replicate = services.replicate()?;
    replicate
        .delete_version(version)
        .await
        .map_err(replicate_failure)?;
    Ok(json!({ "deleted_version": version }))
}

async fn delete_replicate_file(services: &Services, url: &str) -> Result<Value, Failure> {
    // Only a file of our own Replicate account is ever asked for, never an id read off any URL.
    let Some(file_id) = crate::replicate::file_id(&services.config.replicate.api_url, url) else {
        return Ok(skipped("not a Replicate file"));
    };
    let replicate = services.replicate()?;
    replicate
        .delete_file(&file_id)
        .await
        .map_err(replicate_failure)?;
    Ok(json!({ "deleted_file": file_id }))
}

async fn cancel_training(services: &Services, training_id: &str) -> Result<Value, Failure> {
    let replicate = services.replicate()?;
    replicate
        .cancel_training(training_id)
        .await
        .map_err(replicate_failure)?;
    Ok(json!({ "canceled_training": training_id }))
}

async fn cancel_prediction(services: &Services, prediction_id: &str) -> Result<Value, Failure> {
    let replicate = services.replicate()?;
    replicate
        .cancel_prediction(prediction_id)
        .await
        .map_err(replicate_failure)?;
    Ok(json!({ "canceled_prediction": prediction_id }))
}

async fn notify_user(services: &Services, user_id: i64, notice: &Notice) -> Result<Value, Failure> {
    let user = users::get(&**services.db().conn().await?, user_id).await?;
    notify_read_user(services, user, notice).await
}

/// [`notify_user`] with the user read.
async fn notify_read_user(
    services: &Services,
    user: Option<users::User>,
    notice: &Notice,
) -> Result<Value, Failure> {
    let db = services.db();
    let Some(user) = user else {
        return Ok(skipped("no such user"));
    };
    if user.bot_blocked {
        return Ok(skipped("the user blocked the bot"));
    }
    let telegram = services.telegram()?;
    let (text, markup) = notify::user_notice(&user, notice);
    let mut request = telegram
        .bot
        .send_message(ChatId(user.id), text)
        .parse_mode(ParseMode::Html);
    if let Some(markup) = markup {
        request = request.reply_markup(markup);
    }
    match telegram.call(request).await {
        Ok(message) => Ok(json!({ "message_ids": [message.id.0] })),
        Err(TelegramError::Blocked) => {
            users::mark_bot_blocked(&**db.conn().await?, user.id).await?;
            Ok(skipped("the user blocked the bot"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn tell_admins(services: &Services, notice: &AdminNotice) -> Result<Value, Failure> {
    let Some(chat) = services.config.admin_chat_id else {
        return Ok(skipped("no ADMIN_CHAT_ID"));
    };
    let who = match notice.user_id() {
        Some(id) => users::get(&**services.db().conn().await?, id).await?,
        None => None,
    };
    let telegram = services.telegram()?;
    let request = telegram
        .bot
        .send_message(ChatId(chat), notify::admin_notice(notice, who.as_ref()))
        .parse_mode(ParseMode::Html);
    match telegram.call(request).await {
        Ok(message) => Ok(json!({ "message_ids": [message.id.0] })),
        Err(TelegramError::Blocked) => Err(Failure::Permanent(
            "the bot cannot write to ADMIN_CHAT_ID".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Sends a finished generation's images as one album, then its follow-ups (the status message's
/// end, the rating prompt), then records it all in one transaction: the generation succeeds, this
/// effect (`effect_id`) is done, and the follow-ups are written as they went ([`transitions::
/// record_delivery`]), so neither the sweep nor a redelivery sends them again. Its first try may
/// start from what the transaction that wrote it read (`read`). No transaction is open while
/// Telegram is called: a slow or failed send holds no row and cannot leave a generation both
/// delivered and refunded.
async fn deliver_generation(
    services: &Services,
    effect_id: i64,
    generation_id: i64,
    read: Option<Box<Read>>,
) -> Result<Executed, Failure> {
    let db = services.db();
    let job = Tracked::Generation { generation_id };
    let (generation, user, shown) = match read.map(|read| *read) {
        Some(Read {
            generation,
            owner,
            progress,
        }) => (generation, owner, progress),
        None => {
            // The generation, its owner and its status message, in one round trip.
            let conn = db.conn().await?;
            let (generation, user, shown) = tokio::join!(
                generations::get(&**conn, generation_id),
                users::generation_owner(&**conn, generation_id),
                progress::get(&**conn, job),
            );
            let Some(generation) = generation? else {
                return Ok(Executed::Result(skipped("no such generation")));
            };
            (generation, user?, shown?)
        }
    };
    if generation.status.is_final() {
        // A try that died after copying, for a generation settled meanwhile (erased, failed), may
        // have left copies nobody holds.
        if generation.status != GenerationStatus::Succeeded && generation.image_keys.is_empty() {
            discard_unheld_copies(services, &generation).await?;
        }
        return Ok(Executed::Result(skipped("already settled")));
    }
    let (generation, copied) = match keep_copies(services, generation).await? {
        Ok(kept) => kept,
        Err((generation, error)) => {
            // Replicate no longer has an image we never copied: a result nobody can have is a
            // failed generation, refunded.
            let error = format!("the images could not be kept: {error}");
            return fail_delivery(services, &generation, error).await;
        }
    };
    let sent = send_to_owner(services, &generation, user.as_ref()).await;
    if copied && !matches!(sent, Ok(Sent::Delivered { .. } | Sent::Unreachable)) {
        // Not delivered now: the copies are kept on record, so the next try does not copy again.
        discard_unheld_copies(services, &generation).await?;
    }
    let (file_ids, delivered_to) = match sent? {
        Sent::Delivered { user_id, file_ids } => (file_ids, Some(user_id)),
        Sent::Unreachable => (Vec::new(), None),
        Sent::Refused(error) => {
            // Telegram will never take these photos (e.g. it cannot fetch them): a result the user
            // cannot have is a failed generation, refunded, not retried forever.
            let error = format!("the photos could not be sent: {error}");
            return fail_delivery(services, &generation, error).await;
        }
    };
    // The album is out: its follow-ups go now, each recorded with it as it went.
    let ending = shown.filter(|row| row.settled_at.is_none());
    let seen = ending.as_ref().and_then(|row| row.message_id);
    let owner = user.filter(|u| Some(u.id) == delivered_to);
    let rate_prompt = transitions::rate_prompt(&generation);
    let (ended, rated) = tokio::join!(
        async {
            match ending {
                Some(row) => Some(tried(end_read_progress(services, Some(row)).await)),
                None => None,
            }
        },
        async {
            match owner {
                Some(owner) => Some(tried(
                    notify_read_user(services, Some(owner), &rate_prompt).await,
                )),
                None => None,
            }
        },
    );
    let follow_ups = transitions::FollowUps {
        ended: ended.map(|tried| (seen, tried)),
        rated,
    };
    // Recording it (and this effect done, in the same transaction) is retried here, since a retry
    // of the whole effect would send the album a second time.
    let result = json!({ "file_ids": file_ids });
    let (generation, file_ids, follow_ups, result) = (&generation, &file_ids, &follow_ups, &result);
    let record = move || {
        transitions::record_delivery(
            db,
            generation,
            (file_ids, copied),
            delivered_to,
            follow_ups,
            (effect_id, result),
        )
    };
    let recorded = with_patience(record, |e| matches!(e, TransitionError::Db(_)));
    let finished = recorded.await.map_err(transition_failure)?;
    if finished {
        return Ok(Executed::Recorded);
    }
    // Settled while it was sent (its owner erased their data, say): nothing of the album is kept,
    // neither the copies made now nor Telegram's file ids.
    if copied {
        discard_unheld_copies(services, generation).await?;
    }
    Ok(Executed::Result(
        json!({ "sent": file_ids.len(), "settled_meanwhile": true }),
    ))
}

/// How long recording what an effect did (a sent album with its follow-ups, a message) is tried
/// for: a database back within it has it sent once; one down for longer leaves the effect to its
/// lease, and the sweep sends it again. Inside the functions' timeouts (20 s and more) and the
/// effect's lease.
const RECORD_PATIENCE: Duration = Duration::from_secs(12);

/// How an album's send went.
enum Sent {
    /// To this user, with the file ids Telegram gave the photos.
    Delivered { user_id: i64, file_ids: Vec<String> },
    /// Nobody to send it to: no owner, or one who blocked the bot (the generation settles all
    /// the same).
    Unreachable,
    /// Refused for good, with Telegram's error.
    Refused(String),
}

/// Sends a generation's album to its owner (marked as having blocked the bot if Telegram says so).
async fn send_to_owner(
    services: &Services,
    generation: &generations::Generation,
    owner: Option<&users::User>,
) -> Result<Sent, Failure> {
    let Some(user) = owner.filter(|u| !u.bot_blocked) else {
        return Ok(Sent::Unreachable);
    };
    let telegram = services.telegram()?;
    let caption = notify::generation_caption(&generation.prompt);
    let links = generation
        .result_urls
        .iter()
        .filter_map(|u| u.parse().ok())
        .map(InputFile::url)
        .collect();
    let mut sent = send_album(telegram, user.id, links, &caption).await;
    if !generation.image_keys.is_empty() && sent.as_ref().is_err_and(refused_for_good) {
        // Replicate's links last about an hour, so a delivery late for a Telegram outage finds
        // them gone: our copies are sent instead.
        tracing::warn!(
            generation_id = generation.id,
            "Telegram refused the album's links; sending our copies"
        );
        let copies = our_copies(services, &generation.image_keys).await?;
        sent = send_album(telegram, user.id, copies, &caption).await;
    }
    match sent {
        Ok(messages) => Ok(Sent::Delivered {
            user_id: user.id,
            file_ids: photo_file_ids(&messages),
        }),
        Err(TelegramError::Blocked) => {
            users::mark_bot_blocked(&**services.db().conn().await?, user.id).await?;
            Ok(Sent::Unreachable)
        }
        Err(e) => match Failure::from(e) {
            Failure::Permanent(error) => Ok(Sent::Refused(error)),
            other => Err(other),
        },
    }
}

/// Keeps the copies of `generation`'s images on its row, or, when it takes none (settled
/// meanwhile), has them deleted from the bucket ([`transitions::keep_or_discard_copies`]).
async fn discard_unheld_copies(
    services: &Services,
    generation: &generations::Generation,
) -> Result<(), Failure> {
    let discarded = transitions::keep_or_discard_copies(services.db(), generation).await?;
    Box::pin(now(services, discarded)).await;
    Ok(())
}

/// An album nobody can have: its generation failed and is refunded, the user and admins told;
/// copies of its images made before it failed (some copied, then one gone) go from the bucket.
async fn fail_delivery(
    services: &Services,
    generation: &generations::Generation,
    error: String,
) -> Result<Executed, Failure> {
    let written =
        transitions::fail_generation(services.db(), generation, GenerationStatus::Failed, &error)
            .await
            .map_err(transition_failure)?
            .unwrap_or_default();
    Box::pin(now(services, written)).await;
    discard_unheld_copies(services, generation).await?;
    Ok(Executed::Result(json!({ "failed": error })))
}

/// A follow-up sent before the transaction that records it, as that transaction writes it: done
/// with what Telegram answered, or pending for the sweep (a transient failure after its wait, a
/// pause uncounted, a permanent one at once, where the sweep settles it as any).
fn tried(outcome: Result<Value, Failure>) -> Tried {
    match outcome {
        Ok(result) => Tried::Done(result),
        Err(Failure::Transient { error, retry_after }) => Tried::Again {
            after_seconds: retry_after
                .unwrap_or_default()
                .max(backoff(1))
                .as_secs_f64(),
            error,
            attempts: 1,
        },
        Err(Failure::Paused(error)) => Tried::Again {
            error,
            after_seconds: PAUSE.as_secs_f64(),
            attempts: 0,
        },
        Err(Failure::Permanent(error)) => Tried::Again {
            error,
            after_seconds: 0.0,
            attempts: 1,
        },
    }
}

/// Copies a generation's images from Replicate (whose URLs expire within the hour) into our bucket,
/// unless a try before kept them: the generation with their keys, and whether they were copied
/// now (for the caller to record). Writing the same key again is harmless, so a copy cut short is
/// simply done again. `Err` inside: an image is gone for good.
async fn keep_copies(
    services: &Services,
    generation: generations::Generation,
) -> Result<Result<(generations::Generation, bool), (generations::Generation, String)>, Failure> {
    if !generation.image_keys.is_empty() || generation.result_urls.is_empty() {
        return Ok(Ok((generation, false)));
    }
    let storage = services.storage()?;
    // Inside the 29 s of an HTTP Lambda: a slow copy is left for the sweep, not cut off.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut keys = Vec::with_capacity(generation.result_urls.len());
    for (index, url) in generation.result_urls.iter().enumerate() {
        let fetched = match tokio::time::timeout_at(deadline, services.http.get(url).send()).await {
            Err(_) => Err(FetchError::Timeout),
            Ok(Err(e)) if e.is_timeout() => Err(FetchError::Timeout),
            Ok(Err(e)) => Err(FetchError::Broken(e.without_url().to_string())),
            Ok(Ok(response)) => read_photo(response, deadline).await,
        };
        let image = match fetched {
            Ok(image) => image,
            Err(e) if e.is_transient() => {
                return Err(Failure::Transient {
                    error: format!("copying image {index} from Replicate: {e}"),
                    retry_after: None,
                })
            }
            Err(e) => return Ok(Err((generation, e.to_string()))),
        };
        let key = ObjectKey::generated(generation.user_id, generation.id, index, image.kind);
        storage
            .put(&key, image.bytes, image.kind.mime_type())
            .await
            .map_err(storage_failure)?;
        keys.push(key.as_str().to_owned());
    }
    let kept = generations::Generation {
        image_keys: keys,
        ..generation
    };
    Ok(Ok((kept, true)))
}

async fn send_album(
    telegram: &Telegram,
    chat: i64,
    mut photos: Vec<InputFile>,
    caption: &str,
) -> Result<Vec<Message>, TelegramError> {
    if photos.len() == 1 {
        let request = telegram
            .bot
            .send_photo(ChatId(chat), photos.remove(0))
            .caption(caption.to_owned())
            .parse_mode(ParseMode::Html);
        return Ok(vec![telegram.call(request).await?]);
    }
    // An album holds 2-10 items; we generate at most 4.
    let media: Vec<InputMedia> = photos
        .into_iter()
        .enumerate()
        .map(|(i, file)| {
            let photo = InputMediaPhoto::new(file);
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

/// Telegram will not take the album as it was sent (a link it cannot fetch, say): trying again the
/// same way fails the same way.
fn refused_for_good(e: &TelegramError) -> bool {
    use teloxide_core::{ApiError, RequestError};
    !e.is_transient()
        && !matches!(
            e,
            TelegramError::Blocked
                | TelegramError::Request(RequestError::Api(ApiError::InvalidToken))
        )
}

/// A generation's images from our bucket, to upload.
async fn our_copies(services: &Services, keys: &[String]) -> Result<Vec<InputFile>, Failure> {
    let storage = services.storage()?;
    let mut files = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let key = ObjectKey::parse(key)
            .ok_or_else(|| Failure::Permanent(format!("not an object key: {key}")))?;
        let bytes = storage.get(&key).await.map_err(storage_failure)?;
        let name = format!("{index}.{}", key.kind().extension());
        files.push(InputFile::memory(bytes).file_name(name));
    }
    Ok(files)
}

fn photo_file_ids(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| m.photo().and_then(|sizes| sizes.last()))
        .map(|size| size.file.id.to_string())
        .collect()
}

fn transition_failure(e: TransitionError) -> Failure {
    match e {
        TransitionError::Db(e) => e.into(),
        e => Failure::Permanent(error_chain(&e)),
    }
}
