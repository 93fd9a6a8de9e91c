//! Generation: a ready model -> a style from the catalogue (browsed by tag, with previews) or none ->
//! a prompt (or a preset) -> how many images -> paid per image and sent to Replicate (the Replicate
//! webhook delivers the album, then asks for a rating, offering "more like this" in a shape; a
//! rating of 1 or 2 offers a free redo).

use shared::domain::callbacks::{prompt_tag, Callback};
use shared::domain::rules::{self, AspectRatio, MAX_IMAGES, MAX_PROMPT_CHARS, MIN_IMAGES, PRESETS};
use shared::domain::status::ModelStatus;
use shared::effects::Notice;
use shared::errors::Transient;
use shared::notify;
use shared::repo::{feedback, models, styles};
use shared::usecases::generation::{self, Again, GenerationRequest, Pressed};
use shared::usecases::ServiceError;
use teloxide_core::payloads::SendPhotoSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, InputFile, InputMedia, InputMediaPhoto};

use super::{keyboards, BotError, Ctx, Dialog};

/// Styles shown per page when browsing the catalogue.
const STYLES_PER_PAGE: usize = 6;

pub async fn begin(ctx: &Ctx<'_>, model_id: i64) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let conn = db.conn().await?;
    let ready = models::get_usable(&**conn, model_id, ctx.user.id)
        .await?
        .is_some_and(|m| m.status == ModelStatus::Ready);
    if !ready {
        drop(conn);
        ctx.reply(t.model_not_ready, None).await?;
        return Ok(());
    }
    let tags = styles::tags(&**conn).await?;
    let any_style = !styles::list(&**conn, false).await?.is_empty();
    drop(conn);
    if !any_style {
        return ask_prompt(ctx, model_id, None).await;
    }
    ctx.set_dialog(&Dialog::ChoosingStyle { model_id }).await?;
    if tags.is_empty() {
        return show_page(ctx, None, 0).await;
    }
    // Browse by tag: a button per tag, then all styles, or none.
    let mut rows: Vec<Vec<(String, Callback)>> = tags
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|(tag, count)| {
                    (
                        format!("{tag} ({count})"),
                        Callback::StylePage {
                            tag: Some(tag.clone()),
                            page: 0,
                        },
                    )
                })
                .collect()
        })
        .collect();
    rows.push(vec![(
        t.button_all_styles.to_owned(),
        Callback::StylePage { tag: None, page: 0 },
    )]);
    rows.push(vec![(
        t.button_no_style.to_owned(),
        Callback::Style { style_id: None },
    )]);
    ctx.reply(t.choose_tag, Some(keyboards::inline(rows).into()))
        .await?;
    Ok(())
}

pub async fn style_page(ctx: &Ctx<'_>, tag: Option<&str>, page: u32) -> Result<(), BotError> {
    if !matches!(ctx.dialog(), Dialog::ChoosingStyle { .. }) {
        return outdated(ctx).await;
    }
    show_page(ctx, tag, page).await
}

/// One page of the catalogue (optionally one tag): the styles' previews as an album, then a button
/// per style and the page arrows.
async fn show_page(ctx: &Ctx<'_>, tag: Option<&str>, page: u32) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let all = styles::list_tagged(&**db.conn().await?, false, tag).await?;
    let pages = all.len().div_ceil(STYLES_PER_PAGE).max(1) as u32;
    let page = page.min(pages - 1);
    let shown: Vec<_> = all
        .iter()
        .skip(page as usize * STYLES_PER_PAGE)
        .take(STYLES_PER_PAGE)
        .collect();
    let previews: Vec<(url::Url, String)> = shown
        .iter()
        .filter_map(|s| Some((s.preview_url.as_deref()?.parse().ok()?, s.name.clone())))
        .collect();
    let sent = match previews.len() {
        0 => Ok(()),
        // An album needs 2-10 items; a single preview goes as a photo.
        1 => {
            let (url, name) = previews.into_iter().next().expect("one preview");
            let request = ctx
                .telegram()
                .bot
                .send_photo(ChatId(ctx.user.id), InputFile::url(url))
                .caption(name);
            ctx.telegram().call(request).await.map(|_| ())
        }
        _ => {
            let media = previews
                .into_iter()
                .map(|(url, name)| {
                    InputMedia::Photo(InputMediaPhoto::new(InputFile::url(url)).caption(name))
                })
                .collect::<Vec<_>>();
            ctx.telegram()
                .call(
                    ctx.telegram()
                        .bot
                        .send_media_group(ChatId(ctx.user.id), media),
                )
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = sent {
        if e.is_transient() {
            return Err(e.into());
        }
        // A preview Telegram cannot fetch must not stop the choice: the buttons still come.
        tracing::warn!(error = %shared::telemetry::error_chain(&e), "style previews not shown");
    }
    let mut rows: Vec<Vec<(String, Callback)>> = shown
        .iter()
        .map(|s| {
            let label = match &s.gender {
                Some(g) => format!("{} ({g})", s.name),
                None => s.name.clone(),
            };
            vec![(
                label,
                Callback::Style {
                    style_id: Some(s.id),
                },
            )]
        })
        .collect();
    let mut arrows = Vec::new();
    if page > 0 {
        arrows.push((
            t.button_prev.to_owned(),
            Callback::StylePage {
                tag: tag.map(str::to_owned),
                page: page - 1,
            },
        ));
    }
    if page + 1 < pages {
        arrows.push((
            t.button_next.to_owned(),
            Callback::StylePage {
                tag: tag.map(str::to_owned),
                page: page + 1,
            },
        ));
    }
    if !arrows.is_empty() {
        rows.push(arrows);
    }
    rows.push(vec![(
        t.button_no_style.to_owned(),
        Callback::Style { style_id: None },
    )]);
    ctx.reply(
        t.styles_page(tag, page, pages),
        Some(keyboards::inline(rows).into()),
    )
    .await?;
    Ok(())
}

/// A rating from the buttons under a delivered album; a rating of 1 or 2 that earns a free redo
/// offers it.
pub async fn on_rating(ctx: &Ctx<'_>, generation_id: i64, rating: i16) -> Result<(), BotError> {
    let rated = match generation::rate(ctx.services(), ctx.user.id, generation_id, rating).await {
        Ok(rated) => rated,
        Err(ServiceError::NotFound(_)) => return outdated(ctx).await,
        Err(e) => return Err(e.into()),
    };
    ctx.set_dialog(&Dialog::AwaitingFeedbackComment { generation_id })
        .await?;
    let thanks = ctx.t().rate_thanks;
    if !rated.free_redo {
        return ctx.finish_with(thanks, None);
    }
    let (offer, markup) =
        notify::user_notice(&ctx.user, &Notice::FreeRedoOffered { generation_id });
    ctx.finish_with(format!("{thanks}\n\n{offer}"), markup)
}

/// "More like this" (in `aspect_ratio`, else the shape it had) under a delivered album: paid
/// like any generation.
pub async fn on_again(
    ctx: &Ctx<'_>,
    generation_id: i64,
    aspect_ratio: Option<AspectRatio>,
) -> Result<(), BotError> {
    second_try(ctx, generation_id, aspect_ratio, Again::MoreLikeThis).await
}

/// The free redo a rating of 1 or 2 offered: made once, however often it is pressed.
pub async fn on_free_redo(ctx: &Ctx<'_>, generation_id: i64) -> Result<(), BotError> {
    second_try(ctx, generation_id, None, Again::FreeRedo).await
}

async fn second_try(
    ctx: &Ctx<'_>,
    generation_id: i64,
    aspect_ratio: Option<AspectRatio>,
    again: Again,
) -> Result<(), BotError> {
    let Ok(replicate) = ctx.services().replicate() else {
        ctx.reply(ctx.t().try_later, None).await?;
        return Ok(());
    };
    let services = ctx.services();
    let started = match again {
        Again::MoreLikeThis => {
            generation::again_once(
                services,
                replicate,
                ctx.user.id,
                generation_id,
                aspect_ratio,
            )
            .await
        }
        Again::FreeRedo => generation::again(
            services,
            replicate,
            ctx.user.id,
            generation_id,
            aspect_ratio,
            again,
        )
        .await
        .map(|generation| Pressed::Started(generation.id)),
    };
    match started {
        // Its status message ("creating…"), sent by the use case, says it started.
        Ok(Pressed::Started(_)) => Ok(()),
        Ok(Pressed::AlreadyMade) => {
            ctx.reply(ctx.t().again_already_made, None).await?;
            Ok(())
        }
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => ctx.explain(e).await,
    }
}

/// The optional comment after a rating.
pub async fn on_comment(ctx: &Ctx<'_>, generation_id: i64, text: &str) -> Result<(), BotError> {
    let comment: String = text.trim().chars().take(1000).collect();
    let db = ctx.services().db();
    feedback::comment(&**db.conn().await?, generation_id, ctx.user.id, &comment).await?;
    ctx.set_dialog(&Dialog::Idle).await?;
    ctx.finish_with(ctx.t().comment_thanks, None)
}

pub async fn on_style(ctx: &Ctx<'_>, style_id: Option<i64>) -> Result<(), BotError> {
    match ctx.dialog() {
        Dialog::ChoosingStyle { model_id } => ask_prompt(ctx, model_id, style_id).await,
        _ => outdated(ctx).await,
    }
}

async fn ask_prompt(ctx: &Ctx<'_>, model_id: i64, style_id: Option<i64>) -> Result<(), BotError> {
    let rows = PRESETS
        .iter()
        .enumerate()
        .map(|(index, preset)| {
            vec![(
                preset.label(ctx.lang).to_owned(),
                Callback::Preset { index },
            )]
        })
        .collect();
    ctx.set_dialog(&Dialog::AwaitingPrompt { model_id, style_id })
        .await?;
    // In the webhook's answer, as every step that moves the dialog on (see `on_prompt`).
    ctx.finish_with(
        ctx.t().ask_prompt(MAX_PROMPT_CHARS),
        Some(keyboards::inline(rows).into()),
    )
}

pub async fn on_preset(ctx: &Ctx<'_>, index: usize) -> Result<(), BotError> {
    match (ctx.dialog(), PRESETS.get(index)) {
        (Dialog::AwaitingPrompt { model_id, style_id }, Some(preset)) => {
            on_prompt(ctx, model_id, style_id, preset.prompt).await
        }
        _ => outdated(ctx).await,
    }
}

pub async fn on_prompt(
    ctx: &Ctx<'_>,
    model_id: i64,
    style_id: Option<i64>,
    text: &str,
) -> Result<(), BotError> {
    let t = ctx.t();
    let prompt = match rules::validate_prompt(text, &ctx.config().product.block_list) {
        Ok(prompt) => prompt,
        Err(e) => return ctx.explain(e.into()).await,
    };
    let product = &ctx.config().product;
    let row: Vec<(String, Callback)> = (MIN_IMAGES..=MAX_IMAGES)
        .map(|images| {
            (
                t.button_count(images, rules::generation_cost(product, images)),
                Callback::Count {
                    images,
                    prompt: Some(prompt_tag(&prompt)),
                },
            )
        })
        .collect();
    ctx.set_dialog(&Dialog::ChoosingCount {
        model_id,
        style_id,
        prompt,
    })
    .await?;
    // In the webhook's answer: a send failing after the dialog moved on would leave a redelivery
    // of this prompt to a dialog that no longer asks for it ("unknown command").
    ctx.finish_with(
        t.choose_count(product.generation_cost),
        Some(keyboards::inline(vec![row]).into()),
    )
}

/// A count pressed (`images`), on the keyboard offered for the prompt tagged `offered_for`.
pub async fn on_count(
    ctx: &Ctx<'_>,
    images: i32,
    offered_for: Option<u32>,
) -> Result<(), BotError> {
    let choosing = ctx.dialog();
    let Dialog::ChoosingCount {
        model_id,
        style_id,
        prompt,
    } = &choosing
    else {
        return outdated(ctx).await;
    };
    // A keyboard left under an older prompt does not pay for the one being set up now.
    if offered_for.is_some_and(|tag| tag != prompt_tag(prompt)) {
        return outdated(ctx).await;
    }
    // Without Replicate nothing is taken or paid: the choice stays open for later.
    let Ok(replicate) = ctx.services().replicate() else {
        ctx.reply(ctx.t().try_later, None).await?;
        return Ok(());
    };
    // The step is taken before the tokens are: a redelivered update or a second press of the
    // same keyboard finds it gone and cannot pay for a second generation.
    if !ctx.take_dialog(&choosing, &Dialog::Idle).await? {
        return outdated(ctx).await;
    }
    let request = GenerationRequest {
        user_id: ctx.user.id,
        model_id: *model_id,
        style_id: *style_id,
        prompt,
        images,
        aspect_ratio: AspectRatio::default(),
    };
    match generation::create(ctx.services(), replicate, &request).await {
        // Its status message ("creating…"), sent by the use case, says it started.
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => Err(e.into()),
        Err(e) => {
            // Nothing was paid (or it was refunded): the choice stays open, e.g. after /buy.
            ctx.set_dialog(&choosing).await?;
            ctx.explain(e).await
        }
    }
}

async fn outdated(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.reply(ctx.t().outdated_button, None).await?;
    Ok(())
}
