//! Admin commands: for owners (ADMIN_IDS) and the admins they add; anyone else gets "unknown
//! command". Every change goes through `shared::usecases` (audited there).

use chrono::{DateTime, NaiveDate, Utc};
use shared::domain::callbacks::Callback;
use shared::repo::costs::{self, UsdRates};
use shared::repo::promos::Terms;
use shared::repo::styles::{self, NewStyle, StyleUpdate};
use shared::repo::{admins, events, feedback, models, payments, promos, stats, users, Page};
use shared::usecases::admin::Role;
use shared::usecases::styles as style_rules;
use shared::usecases::{self, ServiceError};

use teloxide_core::payloads::SendPhotoSetters;
use teloxide_core::requests::Requester;
use teloxide_core::types::{ChatId, InputFile};

use super::texts::money;
use super::{chart, html, keyboards, BotError, Command, Ctx};

pub async fn command(
    ctx: &Ctx<'_>,
    role: Role,
    command: Command,
    argument: &str,
) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    match command {
        Command::AdminStats => {
            let conn = db.conn().await?;
            let rates = UsdRates::new(&ctx.config().costs.usd_rates);
            let stats = stats::global_statistics(&**conn, &rates).await?;
            let funnels = events::funnels(&**conn).await?;
            let ratings = feedback::by_style(&**conn).await?;
            let low = feedback::recent_low(&**conn, 5).await?;
            drop(conn);
            let mut text = t.admin_stats(&stats);
            text.push_str(&t.admin_insights(&funnels, &ratings, &low));
            // The chart first: the figures, the longer read, are the last message (and the
            // webhook's response).
            send_chart(ctx).await?;
            ctx.finish_with(text, None)
        }
        Command::AdminSystem => {
            let mut words = argument.split_whitespace();
            let Some(model_id) = words.next().and_then(|w| w.parse::<i64>().ok()) else {
                return ctx.finish_with(t.admin_system_usage, None);
            };
            let system = words.next() != Some("off");
            match usecases::admin::set_system_model(ctx.services(), ctx.user.id, model_id, system)
                .await
            {
                Ok(()) => ctx.finish_with(t.admin_done(&format!("model #{model_id}")), None),
                Err(e) => admin_error(ctx, e),
            }
        }
        Command::AdminUsers => {
            if argument.is_empty() {
                return ctx.finish_with(t.admin_users_usage, None);
            }
            match find_user(ctx, argument).await? {
                Some(user) => show_user(ctx, user).await,
                None => ctx.finish_with(t.admin_user_not_found, None),
            }
        }
        Command::AdminModels => {
            let conn = db.conn().await?;
            let recent = models::list_recent(&**conn, None, 10).await?;
            let failing = models::list_recent(
                &**conn,
                Some(shared::domain::status::ModelStatus::Failed),
                10,
            )
            .await?;
            drop(conn);
            ctx.finish_with(t.admin_models(&recent, &failing), None)
        }
        Command::AdminPayments => {
            let conn = db.conn().await?;
            let recent = payments::list_recent(&**conn, Page::first(10)).await?;
            let totals = payments::revenue(&**conn).await?;
            drop(conn);
            ctx.finish_with(t.admin_payments(&recent, &totals), None)
        }
        Command::AdminRefund => refund(ctx, argument).await,
        Command::AdminStyles => {
            if let Some(spec) = argument.strip_prefix("add") {
                add_style(ctx, spec).await
            } else if let Some(spec) = argument.strip_prefix("tags") {
                tag_style(ctx, spec).await
            } else {
                show_styles(ctx).await
            }
        }
        Command::AdminPromo => promo(ctx, argument).await,
        Command::Admins | Command::AdminAdd | Command::AdminRemove | Command::AdminLog
            if role != Role::Owner =>
        {
            ctx.finish_with(t.owners_only, None)
        }
        Command::Admins => show_admins(ctx).await,
        Command::AdminAdd | Command::AdminRemove => {
            let Some(user) = find_user(ctx, argument).await? else {
                return ctx.finish_with(t.admin_user_not_found, None);
            };
            let result = usecases::admin::change_admin(
                ctx.services(),
                ctx.user.id,
                user.id,
                command == Command::AdminAdd,
            )
            .await;
            match result {
                Ok(_) => show_admins(ctx).await,
                Err(e) => admin_error(ctx, e),
            }
        }
        Command::AdminLog => {
            let entries = admins::actions(&**db.conn().await?, Page::first(20)).await?;
            ctx.finish_with(t.admin_log(&entries), None)
        }
        _ => ctx.finish_with(t.unknown_command, None),
    }
}

/// The chart of the last [`chart::DAYS`] days, as a photo with its totals as the caption.
async fn send_chart(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let currency = ctx.services().config.product.currency.clone();
    let days = {
        let db = ctx.services().db();
        let conn = db.conn().await?;
        stats::daily(&**conn, chart::DAYS, &currency).await?
    };
    let series = chart::Series::of(&days, &currency);
    let (title, [new_users, generations, revenue]) = t.chart_labels(&currency);
    let labels = chart::Labels {
        title: &title,
        new_users: &new_users,
        generations: &generations,
        revenue: &revenue,
    };
    let png = match chart::render(&series, &labels) {
        Ok(png) => png,
        Err(e) => {
            // The figures still follow; a chart that cannot be drawn is our bug to see.
            tracing::error!(error = %shared::telemetry::error_chain(&e), "the statistics chart was not drawn");
            return Ok(());
        }
    };
    let caption = t.chart_caption(
        chart::DAYS,
        days.iter().map(|d| d.new_users).sum(),
        days.iter().map(|d| d.generations).sum(),
        &money(days.iter().map(|d| d.revenue).sum(), &currency),
    );
    let request = ctx
        .telegram()
        .bot
        .send_photo(
            ChatId(ctx.user.id),
            InputFile::memory(png).file_name("dream-photo-stats.png"),
        )
        .caption(caption);
    match ctx.telegram().call(request).await {
        Ok(_) => Ok(()),
        Err(shared::telegram::TelegramError::Blocked) => {
            shared::notify::mark_blocked(ctx.services(), ctx.user.id).await?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `/admin_refund <charge id>`: the payment refunded at Telegram, its tokens taken back; the admin
/// is told how it went, or why nothing changed.
async fn refund(ctx: &Ctx<'_>, argument: &str) -> Result<(), BotError> {
    use usecases::refunds::{self, RefundState, Refused};
    let t = ctx.t();
    let charge_id = argument.trim();
    if charge_id.is_empty() || charge_id.contains(char::is_whitespace) {
        return ctx.finish_with(t.admin_refund_usage, None);
    }
    let text = match refunds::refund(ctx.services(), ctx.user.id, charge_id).await? {
        Ok(done) => match done.state {
            RefundState::Refunded => {
                t.admin_refund_done(done.payment.id, done.tokens_taken, done.balance)
            }
            RefundState::Pending => t.admin_refund_pending(done.payment.id, done.tokens_taken),
            RefundState::Refused { error } => {
                t.admin_refund_refused(done.payment.id, &html(&error))
            }
        },
        Err(Refused::NotFound) => t.admin_refund_not_found.to_owned(),
        Err(Refused::NotStars { currency }) => t.admin_refund_not_stars(&html(&currency)),
        Err(Refused::AlreadyRefunded) => t.admin_refund_already.to_owned(),
        Err(Refused::InProgress) => t.admin_refund_in_progress.to_owned(),
        Err(Refused::Spent { balance, tokens }) => t.admin_refund_spent(tokens, balance),
    };
    ctx.finish_with(text, None)
}

/// A use case an admin asked for that did not happen: its message, plainly.
fn admin_error(ctx: &Ctx<'_>, error: ServiceError) -> Result<(), BotError> {
    let t = ctx.t();
    match error {
        ServiceError::Forbidden => ctx.finish_with(t.owners_only, None),
        ServiceError::InsufficientTokens {
            available,
            required,
        } => ctx.finish_with(t.not_enough_tokens(available, required), None),
        ServiceError::NotFound(_) | ServiceError::Conflict(_) => {
            ctx.finish_with(t.admin_error(&html(&error.to_string())), None)
        }
        other => Err(other.into()),
    }
}

async fn find_user(ctx: &Ctx<'_>, query: &str) -> Result<Option<users::User>, BotError> {
    if query.trim().is_empty() {
        return Ok(None);
    }
    let db = ctx.services().db();
    // Exact matches sort first; a prefix match must not stand in for them (an admin command acts
    // on the one person named, never on the newest `bo…` for `@bo`).
    let found = users::search(&**db.conn().await?, query, 1).await?;
    let query = query.trim();
    let username = query.trim_start_matches('@');
    Ok(found.into_iter().next().filter(|u| {
        query.parse() == Ok(u.id)
            || u.username
                .as_deref()
                .is_some_and(|name| name.eq_ignore_ascii_case(username))
    }))
}

async fn show_user(ctx: &Ctx<'_>, user: users::User) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let rates = UsdRates::new(&ctx.config().costs.usd_rates);
    let conn = db.conn().await?;
    let (paid, economics) = tokio::try_join!(
        payments::list_for_user(&**conn, user.id, Page::first(5)),
        costs::for_user(&**conn, user.id, &rates),
    )?;
    drop(conn);
    let markup = keyboards::inline(vec![
        vec![(
            if user.is_blocked {
                t.button_unblock
            } else {
                t.button_block
            }
            .to_owned(),
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
    ctx.finish_with(t.admin_user(&user, &paid, &economics), Some(markup.into()))
}

async fn show_admins(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let db = ctx.services().db();
    let list = admins::list(&**db.conn().await?).await?;
    ctx.finish_with(ctx.t().admin_admins(&ctx.config().admin_ids, &list), None)
}

async fn show_styles(ctx: &Ctx<'_>) -> Result<(), BotError> {
    let t = ctx.t();
    let db = ctx.services().db();
    let all = styles::list(&**db.conn().await?, true).await?;
    let rows = all
        .iter()
        .map(|s| {
            vec![(
                if s.is_active {
                    t.button_style_disable(&s.name)
                } else {
                    t.button_style_enable(&s.name)
                },
                Callback::AdminStyle {
                    style_id: s.id,
                    active: !s.is_active,
                },
            )]
        })
        .collect();
    ctx.finish_with(t.admin_styles(&all), Some(keyboards::inline(rows).into()))
}

/// `/admin_styles add Name | description | template with {prompt} [| tags=a,b | preview=URL |
/// lora=URL | weight=0.8 | trigger=WORD | gender=female]`
async fn add_style(ctx: &Ctx<'_>, spec: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let parts: Vec<&str> = spec.split('|').map(str::trim).collect();
    let (name, rest) = match parts.split_first() {
        Some((name, rest)) if !name.is_empty() && name.chars().count() <= 64 => (*name, rest),
        _ => return ctx.finish_with(t.admin_style_usage, None),
    };
    let mut style = NewStyle {
        name: name.to_owned(),
        prompt_template: "{prompt}".to_owned(),
        lora_scale: 1.0,
        ..Default::default()
    };
    let mut positional = 0;
    for part in rest {
        match part.split_once('=') {
            Some(("tags", v)) => style.tags = v.split(',').map(str::to_owned).collect(),
            Some(("preview", v)) => style.preview_url = Some(v.trim().to_owned()),
            Some(("lora", v)) => style.lora_url = Some(v.trim().to_owned()),
            Some(("trigger", v)) => style.trigger_word = Some(v.trim().to_owned()),
            Some(("gender", v @ ("male" | "female"))) => style.gender = Some(v.to_owned()),
            Some(("weight", v)) => match v.trim().parse::<f64>() {
                Ok(w) => style.lora_scale = w,
                _ => return ctx.finish_with(t.admin_style_usage, None),
            },
            _ if positional == 0 => {
                style.description = part.to_string();
                positional += 1;
            }
            _ if positional == 1 && !part.is_empty() => {
                style.prompt_template = part.to_string();
                positional += 1;
            }
            _ => return ctx.finish_with(t.admin_style_usage, None),
        }
    }
    // The same rules as the API's (URLs, weight range, tags, lengths).
    let style = match style_rules::validate_new(&style) {
        Ok(style) => style,
        Err(e) => return invalid_style(ctx, e),
    };
    match usecases::admin::add_style(ctx.services(), ctx.user.id, &style).await {
        Ok(Some(style)) => ctx.finish_with(t.admin_done(&html(&style.name)), None),
        Ok(None) => ctx.finish_with(t.admin_style_exists, None),
        Err(e) => admin_error(ctx, e),
    }
}

fn invalid_style(ctx: &Ctx<'_>, e: style_rules::InvalidField) -> Result<(), BotError> {
    let usage = ctx.t().admin_style_usage;
    ctx.finish_with(
        format!("{}: {}\n\n{usage}", e.field, html(&e.message)),
        None,
    )
}

/// `/admin_styles tags <id> a,b,c`
async fn tag_style(ctx: &Ctx<'_>, spec: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let mut words = spec.split_whitespace();
    let (Some(id), tags) = (
        words.next().and_then(|w| w.parse::<i64>().ok()),
        words.next().unwrap_or(""),
    ) else {
        return ctx.finish_with(t.admin_style_usage, None);
    };
    let tags: Vec<String> = tags
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let change = match style_rules::validate_update(&StyleUpdate {
        tags: Some(tags),
        ..Default::default()
    }) {
        Ok(change) => change,
        Err(e) => return invalid_style(ctx, e),
    };
    match usecases::styles::update(ctx.services(), ctx.user.id, id, &change).await {
        Ok(style) => ctx.finish_with(
            t.admin_done(&html(&format!("{}: {}", style.name, style.tags.join(", ")))),
            None,
        ),
        Err(e) => admin_error(ctx, e),
    }
}

/// `/admin_promo` (list), `add CODE tokens=N|discount=P [max=N] [from=D] [until=D]`,
/// `edit CODE [max=N|none] [until=D|none]`, `off CODE`, `on CODE`.
async fn promo(ctx: &Ctx<'_>, argument: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let services = ctx.services();
    let mut words = argument.split_whitespace();
    let (verb, code) = (words.next(), words.next());
    // Every option is `key=value` with a known key: a typo is refused, not dropped.
    let known: &[&str] = match verb {
        Some("add") => &["tokens", "discount", "max", "from", "until"],
        Some("edit") => &["max", "until"],
        _ => &[],
    };
    let Some(options) = words
        .map(|w| w.split_once('=').filter(|(k, _)| known.contains(k)))
        .collect::<Option<Vec<(&str, &str)>>>()
    else {
        return ctx.finish_with(t.admin_promo_usage, None);
    };
    let option = |key: &str| options.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let result = match (verb, code) {
        (None, _) => {
            let db = services.db();
            let codes = promos::list(&**db.conn().await?).await?;
            return ctx.finish_with(t.admin_promos(&codes), None);
        }
        (Some("add"), Some(code)) => {
            // A value that is present must parse: `max=abc` is not "unlimited".
            fn parsed<T>(
                value: Option<&str>,
                parse: impl Fn(&str) -> Option<T>,
            ) -> Result<Option<T>, ()> {
                value.map(|v| parse(v).ok_or(())).transpose()
            }
            let terms = (|| {
                Ok::<_, ()>(Terms {
                    tokens: parsed(option("tokens"), |v| v.parse().ok())?,
                    discount_percent: parsed(option("discount"), |v| {
                        v.trim_end_matches('%').parse().ok()
                    })?,
                    valid_from: parsed(option("from"), day)?,
                    valid_until: parsed(option("until"), day)?,
                    max_uses: parsed(option("max"), |v| v.parse().ok())?,
                })
            })();
            let Ok(terms) = terms else {
                return ctx.finish_with(t.admin_promo_usage, None);
            };
            usecases::promo::create(services, ctx.user.id, code, &terms).await
        }
        (Some("edit"), Some(_)) if options.is_empty() => {
            return ctx.finish_with(t.admin_promo_usage, None);
        }
        (Some("edit"), Some(code)) => {
            let until = option("until").map(|v| {
                if v == "none" {
                    Ok(None)
                } else {
                    day(v).map(Some).ok_or(())
                }
            });
            let max = option("max").map(|v| {
                if v == "none" {
                    Ok(None)
                } else {
                    v.parse().map(Some).map_err(|_| ())
                }
            });
            match (until.transpose(), max.transpose()) {
                (Ok(until), Ok(max)) => {
                    usecases::promo::change(services, ctx.user.id, code, until, max, None).await
                }
                _ => return ctx.finish_with(t.admin_promo_usage, None),
            }
        }
        (Some(verb @ ("on" | "off")), Some(code)) => {
            usecases::promo::change(services, ctx.user.id, code, None, None, Some(verb == "on"))
                .await
        }
        _ => return ctx.finish_with(t.admin_promo_usage, None),
    };
    match result {
        Ok(promo) => ctx.finish_with(t.admin_done(&html(&promo.code)), None),
        Err(e) => admin_error(ctx, e),
    }
}

/// `2026-12-31` -> the start of that day, UTC.
fn day(value: &str) -> Option<DateTime<Utc>> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// An admin's press of `callback` (the callback query `press`).
pub async fn callback(ctx: &Ctx<'_>, callback: Callback, press: &str) -> Result<(), BotError> {
    let t = ctx.t();
    let services = ctx.services();
    match callback {
        Callback::AdminBlock { user_id, blocked } => {
            match usecases::admin::set_blocked(services, ctx.user.id, user_id, blocked).await {
                Ok(user) => show_user(ctx, user).await,
                Err(e) => admin_error(ctx, e),
            }
        }
        Callback::AdminTokens { user_id, delta } => {
            let grant = usecases::admin::adjust_tokens(
                services,
                ctx.user.id,
                user_id,
                delta,
                Some("bot"),
                Some(press),
            );
            match grant.await {
                Ok(balance) => ctx.finish_with(
                    t.admin_done(&format!("{delta:+} → {}", balance.tokens_left)),
                    None,
                ),
                Err(e) => admin_error(ctx, e),
            }
        }
        Callback::AdminStyle { style_id, active } => {
            let change = StyleUpdate {
                is_active: Some(active),
                ..Default::default()
            };
            match usecases::styles::update(services, ctx.user.id, style_id, &change).await {
                Ok(_) => show_styles(ctx).await,
                Err(e) => admin_error(ctx, e),
            }
        }
        _ => Ok(()),
    }
}
