//! Admin commands (only for ids in ADMIN_IDS; anyone else gets "unknown command").

use shared::domain::callbacks::Callback;
use shared::repo::styles::{self, NewStyle};
use shared::repo::{admin, models, payments, users, Page};
use shared::service;

use super::{keyboards, BotError, Ctx};

pub async fn command(ctx: &Ctx<'_>, name: &str, argument: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db()?;
    match name {
        "admin_stats" => {
            let stats = admin::global_statistics(&**db.conn().await?).await?;
            ctx.reply(t.admin_stats(&stats), None).await?;
        }
        "admin_users" => {
            if argument.is_empty() {
                ctx.reply(t.admin_users_usage(), None).await?;
                return Ok(());
            }
            let found = users::search(&**db.conn().await?, argument, 1).await?;
            match found.into_iter().next() {
                Some(user) => show_user(ctx, user).await?,
                None => {
                    ctx.reply(t.admin_user_not_found(), None).await?;
                }
            }
        }
        "admin_models" => {
            let conn = db.conn().await?;
            let recent = models::list_recent(&**conn, None, 10).await?;
            let failing = models::list_recent(
                &**conn,
                Some(shared::domain::status::ModelStatus::Failed),
                10,
            )
            .await?;
            drop(conn);
            ctx.reply(t.admin_models(&recent, &failing), None).await?;
        }
        "admin_payments" => {
            let conn = db.conn().await?;
            let recent = payments::list_recent(&**conn, Page::first(10)).await?;
            let totals = payments::revenue(&**conn).await?;
            drop(conn);
            ctx.reply(t.admin_payments(&recent, &totals), None).await?;
        }
        "admin_styles" => match argument.strip_prefix("add") {
            Some(spec) => add_style(ctx, spec).await?,
            None => show_styles(ctx).await?,
        },
        _ => {
            ctx.reply(t.unknown_command(), None).await?;
        }
    }
    Ok(())
}

async fn show_user(ctx: &Ctx<'_>, user: users::User) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db()?;
    let paid = payments::list_for_user(&**db.conn().await?, user.id, Page::first(5)).await?;
    let markup = keyboards::inline(vec![
        vec![(
            t.button_block(!user.is_blocked),
            Callback::AdminBlock {
                user_id: user.id,
                blocked: !user.is_blocked,
            },
        )],
        vec![
            (
                t.button_tokens(100),
                Callback::AdminTokens {
                    user_id: user.id,
                    delta: 100,
                },
            ),
            (
                t.button_tokens(-100),
                Callback::AdminTokens {
                    user_id: user.id,
                    delta: -100,
                },
            ),
        ],
    ]);
    ctx.reply(t.admin_user(&user, &paid), Some(markup.into()))
        .await?;
    Ok(())
}

async fn show_styles(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db()?;
    let all = styles::list(&**db.conn().await?, true).await?;
    let rows = all
        .iter()
        .map(|s| {
            vec![(
                t.button_style_toggle(&s.name, !s.is_active),
                Callback::AdminStyle {
                    style_id: s.id,
                    active: !s.is_active,
                },
            )]
        })
        .collect();
    ctx.reply(t.admin_styles(&all), Some(keyboards::inline(rows).into()))
        .await?;
    Ok(())
}

/// `/admin_styles add Name | description | template with {prompt}`
async fn add_style(ctx: &Ctx<'_>, spec: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let parts: Vec<&str> = spec.split('|').map(str::trim).collect();
    let (name, description, template) = match parts.as_slice() {
        [name, description, template] if !name.is_empty() && name.chars().count() <= 64 => {
            (*name, *description, *template)
        }
        [name, description] if !name.is_empty() && name.chars().count() <= 64 => {
            (*name, *description, "{prompt}")
        }
        _ => {
            ctx.reply(t.admin_style_usage(), None).await?;
            return Ok(());
        }
    };
    let db = ctx.services().db()?;
    let style = NewStyle {
        name: name.to_owned(),
        description: description.to_owned(),
        prompt_template: if template.is_empty() {
            "{prompt}".to_owned()
        } else {
            template.to_owned()
        },
        lora_url: None,
        lora_scale: 1.0,
    };
    let created = styles::create(&**db.conn().await?, &style).await?;
    match created {
        Some(style) => {
            ctx.reply(t.admin_done(&shared::texts::html(&style.name)), None)
                .await?
        }
        None => ctx.reply(t.admin_style_exists(), None).await?,
    };
    Ok(())
}

pub async fn callback(ctx: &Ctx<'_>, callback: Callback) -> Result<(), BotError> {
    let t = ctx.t();
    let services = ctx.services();
    match callback {
        Callback::AdminBlock { user_id, blocked } => {
            match service::admin::set_blocked(services, ctx.user.id, user_id, blocked).await {
                Ok(user) => show_user(ctx, user).await,
                Err(e) => ctx.explain(e).await,
            }
        }
        Callback::AdminTokens { user_id, delta } => {
            match service::admin::adjust_tokens(services, ctx.user.id, user_id, delta, Some("bot"))
                .await
            {
                Ok(balance) => {
                    ctx.reply(
                        t.admin_done(&format!("{delta:+} → {}", balance.tokens_left)),
                        None,
                    )
                    .await?;
                    Ok(())
                }
                Err(e) => ctx.explain(e).await,
            }
        }
        Callback::AdminStyle { style_id, active } => {
            let db = services.db()?;
            let changed = styles::set_active(&**db.conn().await?, style_id, active).await?;
            if changed.is_some() {
                show_styles(ctx).await
            } else {
                ctx.reply(t.outdated_button(), None).await?;
                Ok(())
            }
        }
        _ => Ok(()),
    }
}
