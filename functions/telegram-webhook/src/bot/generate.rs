//! Generation: a ready model -> a style (or none) -> a prompt (or a preset) -> how many images ->
//! paid per image and sent to Replicate (the Replicate webhook delivers the album).

use shared::domain::callbacks::Callback;
use shared::domain::rules::{self, MAX_IMAGES, MAX_PROMPT_CHARS, MIN_IMAGES, PRESET_PROMPTS};
use shared::domain::status::ModelStatus;
use shared::repo::{models, styles};
use shared::service::generation::{self, GenerationRequest};

use super::{keyboards, BotError, Ctx, Dialog};

pub async fn begin(ctx: &Ctx<'_>, model_id: i64) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db()?;
    let conn = db.conn().await?;
    let ready = models::get_owned(&**conn, model_id, ctx.user.id)
        .await?
        .is_some_and(|m| m.status == ModelStatus::Ready);
    if !ready {
        ctx.reply(t.model_not_ready(), None).await?;
        return Ok(());
    }
    let active = styles::list(&**conn, false).await?;
    drop(conn);
    if active.is_empty() {
        return ask_prompt(ctx, model_id, None).await;
    }
    let mut rows: Vec<Vec<(String, Callback)>> = active
        .iter()
        .map(|s| {
            vec![(
                s.name.clone(),
                Callback::Style {
                    style_id: Some(s.id),
                },
            )]
        })
        .collect();
    rows.push(vec![(
        t.button_no_style(),
        Callback::Style { style_id: None },
    )]);
    ctx.set_dialog(&Dialog::ChoosingStyle { model_id }).await?;
    ctx.reply(t.choose_style(), Some(keyboards::inline(rows).into()))
        .await?;
    Ok(())
}

pub async fn on_style(ctx: &Ctx<'_>, style_id: Option<i64>) -> Result<(), BotError> {
    match ctx.dialog() {
        Dialog::ChoosingStyle { model_id } => ask_prompt(ctx, model_id, style_id).await,
        _ => outdated(ctx).await,
    }
}

async fn ask_prompt(ctx: &Ctx<'_>, model_id: i64, style_id: Option<i64>) -> Result<(), BotError> {
    let rows = PRESET_PROMPTS
        .iter()
        .enumerate()
        .map(|(index, preset)| vec![(preset.to_string(), Callback::Preset { index })])
        .collect();
    ctx.set_dialog(&Dialog::AwaitingPrompt { model_id, style_id })
        .await?;
    ctx.reply(
        ctx.t().ask_prompt(MAX_PROMPT_CHARS),
        Some(keyboards::inline(rows).into()),
    )
    .await?;
    Ok(())
}

pub async fn on_preset(ctx: &Ctx<'_>, index: usize) -> Result<(), BotError> {
    match (ctx.dialog(), PRESET_PROMPTS.get(index)) {
        (Dialog::AwaitingPrompt { model_id, style_id }, Some(preset)) => {
            on_prompt(ctx, model_id, style_id, preset).await
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
    let prompt = match rules::validate_prompt(text) {
        Ok(prompt) => prompt,
        Err(e) => return ctx.explain(e.into()).await,
    };
    let product = &ctx.services().config.product;
    let row: Vec<(String, Callback)> = (MIN_IMAGES..=MAX_IMAGES)
        .map(|images| {
            (
                t.button_count(images, rules::generation_cost(product, images)),
                Callback::Count { images },
            )
        })
        .collect();
    ctx.set_dialog(&Dialog::ChoosingCount {
        model_id,
        style_id,
        prompt,
    })
    .await?;
    ctx.reply(
        t.choose_count(product.generation_cost),
        Some(keyboards::inline(vec![row]).into()),
    )
    .await?;
    Ok(())
}

pub async fn on_count(ctx: &Ctx<'_>, images: i32) -> Result<(), BotError> {
    let Dialog::ChoosingCount {
        model_id,
        style_id,
        prompt,
    } = ctx.dialog()
    else {
        return outdated(ctx).await;
    };
    let request = GenerationRequest {
        user_id: ctx.user.id,
        model_id,
        style_id,
        prompt: &prompt,
        images,
    };
    match generation::create(ctx.services(), &request).await {
        Ok(generation) => {
            ctx.set_dialog(&Dialog::Idle).await?;
            ctx.reply(ctx.t().generation_started(generation.num_images), None)
                .await?;
            Ok(())
        }
        Err(e) => ctx.explain(e).await,
    }
}

async fn outdated(ctx: &Ctx<'_>) -> Result<(), BotError> {
    ctx.reply(ctx.t().outdated_button(), None).await?;
    Ok(())
}
