//! `/train`: name -> photos (singly or as albums) -> "Start training" -> paid and queued.

use shared::dispatch;
use shared::domain::callbacks::Callback;
use shared::domain::rules::{self, MAX_PHOTOS, MIN_PHOTOS};
use shared::domain::status::ModelStatus;
use shared::effects::{Effect, Notice, Written};
use shared::errors::Transient;
use shared::notify;
use shared::repo::models::{self, Model, NewPhoto};
use shared::usecases::training::{self, Checked, PhotoAdded};
use shared::usecases::ServiceError;
use teloxide_core::types::Message;

use super::{html, keyboards, BotError, Ctx, Dialog};

/// `/train`: a draft left behind is offered first (go on with it, or drop it); else a new model.
pub async fn start(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let draft = models::latest_draft(&**ctx.services().db().conn().await?, ctx.user.id).await?;
    let Some(draft) = draft else {
        return ask_name(ctx).await;
    };
    let t = ctx.t();
    ctx.set_dialog(&Dialog::Idle).await?;
    let name = html(&draft.name);
    let markup = keyboards::inline(vec![
        vec![(
            t.button_resume_draft(&name),
            Callback::Draft {
                model_id: draft.id,
                resume: true,
            },
        )],
        vec![(
            t.button_new_model.to_owned(),
            Callback::Draft {
                model_id: draft.id,
                resume: false,
            },
        )],
    ]);
    ctx.reply(
        t.draft_found(&name, draft.photo_count),
        Some(teloxide_core::types::ReplyMarkup::InlineKeyboard(markup)),
    )
    .await?;
    Ok(())
}

async fn ask_name(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.set_dialog(&Dialog::AwaitingModelName).await?;
    ctx.reply(ctx.t().train_ask_name, None).await?;
    Ok(())
}

/// The answer to the draft offer: photos are collected for it again (its status message posted
/// anew), or it is dropped and a new model named.
pub async fn on_draft(ctx: &Ctx<'_>, model_id: i64, resume: bool) -> Result<(), BotError> {
    if !resume {
        if let Err(e) = training::drop_draft(ctx.services().db(), ctx.user.id, model_id).await {
            return ctx.explain(e).await;
        }
        return ask_name(ctx).await;
    }
    let draft = models::get(&**ctx.services().db().conn().await?, model_id)
        .await?
        .filter(|m| m.user_id == ctx.user.id && m.status == ModelStatus::Draft);
    let Some(draft) = draft else {
        return ctx.finish_with(ctx.t().outdated_button, None);
    };
    collect_photos(ctx, draft).await
}

/// "Retrain with more photos": a draft carrying the model's photos collects more, paid at the
/// retraining price; the model keeps working until the new version replaces it.
pub async fn on_retrain(ctx: &Ctx<'_>, model_id: i64) -> Result<(), BotError> {
    let t = ctx.t();
    let draft = match training::start_retrain(ctx.services().db(), ctx.user.id, model_id).await {
        Ok((draft, _)) => draft,
        Err(e) => return ctx.explain(e).await,
    };
    if draft.status != ModelStatus::Draft {
        return ctx.finish_with(t.already_started, None);
    }
    let cost = shared::domain::rules::draft_cost(&ctx.config().product, draft.retrain_of);
    ctx.reply(
        t.retrain_started(&html(&draft.name), draft.photo_count, cost),
        None,
    )
    .await?;
    collect_photos(ctx, draft).await
}

/// Photos are collected for `draft` (again): its status message is posted anew.
async fn collect_photos(ctx: &Ctx<'_>, mut draft: Model) -> Result<(), BotError> {
    ctx.set_dialog(&Dialog::CollectingPhotos { model_id: draft.id })
        .await?;
    // One connection at a time (a Lambda's pool has one).
    let conn = ctx.services().db().conn().await?;
    models::set_status_message(&**conn, draft.id, None).await?;
    draft.status_message_id = None;
    let total = draft.photo_count;
    show_status(ctx, &**conn, &draft, total, total >= MAX_PHOTOS).await
}

pub async fn on_name(ctx: &Ctx<'_>, name: &str) -> Result<(), BotError> {
    let db = ctx.services().db();
    let model = match training::start_draft(db, ctx.user.id, name).await {
        Ok(model) => model,
        Err(e) => return ctx.explain(e).await,
    };
    ctx.set_dialog(&Dialog::CollectingPhotos { model_id: model.id })
        .await?;
    // In the webhook's answer: a send failing after the dialog moved on would leave a redelivery
    // of this name to a dialog that no longer asks for it.
    ctx.finish_with(
        ctx.t()
            .train_ask_photos(&html(&model.name), MIN_PHOTOS, MAX_PHOTOS),
        None,
    )
}

/// The photo (or image document) in a message, as a training photo.
fn photo_of(message: &Message) -> Option<NewPhoto> {
    if let Some(sizes) = message.photo() {
        let largest = sizes.iter().max_by_key(|s| s.width * s.height)?;
        return Some(NewPhoto {
            file_unique_id: largest.file.unique_id.to_string(),
            telegram_file_id: Some(largest.file.id.to_string()),
            source_url: None,
            file_size: Some(i64::from(largest.file.size)),
            mime_type: Some("image/jpeg".into()),
            storage_key: None,
        });
    }
    let document = message.document()?;
    Some(NewPhoto {
        file_unique_id: document.file.unique_id.to_string(),
        telegram_file_id: Some(document.file.id.to_string()),
        source_url: None,
        file_size: Some(i64::from(document.file.size)),
        mime_type: Some(
            document
                .mime_type
                .as_ref()
                .map(|m| m.essence_str().to_owned())
                .unwrap_or_else(|| "application/octet-stream".into()),
        ),
        storage_key: None,
    })
}

/// A photo with no training dialogue open is told how to start one, once per album: an album's
/// photos arrive as separate updates, perhaps handled by several invocations at once, and the effect
/// log's dedupe key lets only the first of them write the answer.
async fn photo_outside_training(ctx: &Ctx<'_>, message: &Message) -> Result<(), BotError> {
    let notice = Notice::StartTrainingFirst;
    let Some(album) = message.media_group_id() else {
        let (text, markup) = notify::user_notice(&ctx.user, &notice);
        ctx.reply(text, markup).await?;
        return Ok(());
    };
    let mut written = Written::new();
    {
        let conn = ctx.services().db().conn().await?;
        let key = format!("start-training-first:{}:{}", ctx.user.id, album.0);
        let effect = Effect::Notify {
            user_id: ctx.user.id,
            notice,
        };
        written.write(&**conn, &key, &effect).await?;
    }
    dispatch::now(ctx.services(), written).await;
    Ok(())
}

/// A photo arrived. Album items arrive as separate updates, possibly handled in parallel: each one
/// takes the draft's row lock, adds its photo and updates the one status message, so the user sees a
/// single message whose count grows, and duplicates (same file_unique_id) count once.
pub async fn on_photo(ctx: &Ctx<'_>, message: &Message) -> Result<(), BotError> {
    let t = ctx.t();
    let Dialog::CollectingPhotos { model_id } = ctx.dialog() else {
        return photo_outside_training(ctx, message).await;
    };
    let Some(photo) = photo_of(message) else {
        return Ok(());
    };
    // Downloaded and measured before the draft is locked (it takes a moment: album items do not
    // wait for each other), judged against the draft's other photos under the lock.
    let checked = check(ctx, &photo).await?;
    let db = ctx.services().db();
    let mut conn = db.conn().await?;
    let tx = conn.transaction().await?;
    let Some(model) = models::get_for_update(&*tx, model_id)
        .await?
        .filter(|m| m.user_id == ctx.user.id)
    else {
        drop(tx);
        drop(conn);
        ctx.set_dialog(&Dialog::Idle).await?;
        return photo_outside_training(ctx, message).await;
    };
    let outcome = match training::add_checked_photo(&*tx, &model, &photo, checked.as_ref()).await {
        Ok(outcome) => outcome,
        Err(e @ ServiceError::Rule(_)) => {
            drop(tx);
            drop(conn);
            return ctx.explain(e).await;
        }
        Err(ServiceError::Conflict(_)) => {
            drop(tx);
            drop(conn);
            ctx.set_dialog(&Dialog::Idle).await?;
            ctx.reply(t.already_started, None).await?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let (total, full) = match outcome {
        PhotoAdded::Added { total }
        | PhotoAdded::Rejected { total, .. }
        | PhotoAdded::Duplicate { total } => (total, false),
        PhotoAdded::Full { total } => (total, true),
    };
    show_status(ctx, &*tx, &model, total, full).await?;
    tx.commit().await?;
    Ok(())
}

/// The photo check's measurements of a photo (`None` when the check is off, or the photo breaks a
/// rule on its declared size or type, which adding it reports). A download that failed for now
/// fails the update (Telegram delivers it again); a file that cannot be had is unreadable.
async fn check(ctx: &Ctx<'_>, photo: &NewPhoto) -> Result<Option<Checked>, BotError> {
    let services = ctx.services();
    let Some(file_id) = photo.telegram_file_id.as_deref() else {
        return Ok(None);
    };
    if services.photo_check.is_none()
        || rules::validate_photo(photo.file_size, photo.mime_type.as_deref()).is_err()
    {
        return Ok(None);
    }
    let telegram = services.telegram()?;
    match telegram
        .download_photo(file_id, services.photos.photo_timeout)
        .await
    {
        Ok(downloaded) => Ok(training::measure_photo(services, downloaded.bytes).await),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %shared::telemetry::error_chain(&e), "a photo sent for training cannot be downloaded");
            Ok(Checked::unreadable(services))
        }
    }
}

/// Posts the draft's status message, or edits it (with the "Start training" button once there are
/// enough photos); one the person deleted is posted anew.
async fn show_status(
    ctx: &Ctx<'_>,
    db: &impl shared::db::GenericClient,
    model: &Model,
    total: i64,
    full: bool,
) -> Result<(), BotError> {
    let t = ctx.t();
    let cost = shared::domain::rules::draft_cost(&ctx.config().product, model.retrain_of);
    let mut text = t.photos_status(total, MIN_PHOTOS, MAX_PHOTOS, cost);
    let to_replace = training::photos_to_replace(db, model.id).await?;
    if !to_replace.is_empty() {
        text.push_str("\n\n");
        text.push_str(&t.photos_to_replace(
            &to_replace,
            i64::from(ctx.config().photo_check.thresholds.min_side),
        ));
    }
    if full {
        text.push_str("\n\n");
        text.push_str(&t.photos_full(MAX_PHOTOS));
    }
    let markup = (total >= MIN_PHOTOS).then(|| {
        keyboards::inline(vec![vec![(
            t.button_start_training(cost),
            Callback::StartTraining { model_id: model.id },
        )]])
    });
    if let Some(message_id) = model.status_message_id {
        if ctx.edit(message_id, text.clone(), markup.clone()).await? {
            return Ok(());
        }
        // The person deleted it: a new status message takes its place.
    }
    let sent = ctx
        .reply_within(
            db,
            text,
            markup.map(teloxide_core::types::ReplyMarkup::InlineKeyboard),
        )
        .await?;
    models::set_status_message(db, model.id, sent.map(|m| i64::from(m.id.0))).await?;
    Ok(())
}

/// "Start training": paid, queued, the user told what happens next.
pub async fn submit(ctx: &Ctx<'_>, model_id: i64) -> Result<(), BotError> {
    match training::submit(ctx.services(), ctx.user.id, model_id).await {
        // The training's status message, sent by the use case, says it started.
        Ok(_) => {
            ctx.set_dialog(&Dialog::Idle).await?;
            Ok(())
        }
        Err(ServiceError::Conflict(_)) => {
            ctx.reply(ctx.t().already_started, None).await?;
            Ok(())
        }
        Err(e) => ctx.explain(e).await,
    }
}
