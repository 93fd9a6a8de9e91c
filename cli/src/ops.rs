//! The operator's commands: migrate, set-webhook, seed-styles.

use shared::config::Config;
use shared::db::Db;
use shared::repo::styles::{self, NewStyle};
use telegram_webhook::registration;
use teloxide_core::requests::Requester;

pub type CliResult = Result<(), Box<dyn std::error::Error>>;

fn config() -> Result<Config, Box<dyn std::error::Error>> {
    Ok(Config::from_env()?)
}

/// DATABASE_URL's database, or with none set, the private cluster `serve` uses (started if needed).
async fn database(
    config: &Config,
) -> Result<(Db, Option<local_cluster::LocalCluster>), Box<dyn std::error::Error>> {
    if config.database.url.is_some() {
        return Ok((Db::connect_lazy(&config.database)?, None));
    }
    let (cluster, url) = crate::cluster::local_database(
        std::path::Path::new(".data/postgres"),
        crate::cluster::LOCAL_PG_PORT,
    )
    .await?;
    let mut database = config.database.clone();
    database.url = Some(shared::config::Secret::new(url));
    Ok((Db::connect_lazy(&database)?, Some(cluster)))
}

/// Stops a cluster this command started (a running `serve`'s cluster is left alone).
fn stop(cluster: Option<local_cluster::LocalCluster>) {
    if let Some(cluster) = cluster {
        cluster.stop();
    }
}

pub async fn migrate() -> CliResult {
    let config = config()?;
    let (db, cluster) = database(&config).await?;
    let applied = db.migrate().await;
    stop(cluster);
    println!("migrations applied: {} new", applied?);
    Ok(())
}

#[derive(clap::Args)]
pub struct SetWebhookArgs {
    /// The API's base URL (the HttpApi's URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com);
    /// the webhook is <url>/telegram/webhook.
    #[arg(long)]
    pub url: Option<String>,
    /// Remove the webhook instead (e.g. to use long polling with `dream-photo serve`).
    #[arg(long, conflicts_with = "url")]
    pub delete: bool,
}

pub async fn set_webhook(args: SetWebhookArgs) -> CliResult {
    let config = config()?;
    // Only the bot is needed here: no database, no Replicate.
    let telegram =
        shared::telegram::Telegram::from_config(&config.telegram, reqwest::Client::new())
            .ok_or("TELEGRAM_BOT_TOKEN is not set")?;
    if args.delete {
        registration::unregister(&telegram).await?;
        println!("webhook removed");
        return Ok(());
    }
    let base = args.url.ok_or("give --url <api base url> (or --delete)")?;
    let secret = config.telegram.webhook_secret.as_ref().ok_or(
        "TELEGRAM_WEBHOOK_SECRET is not set: the webhook must be protected by a secret token",
    )?;
    let url = registration::webhook_url(&base).map_err(|e| format!("--url: {e}"))?;
    // No database here: the owners get their menus in the default language (the deploy, which has
    // the database, sets every admin's in theirs).
    registration::register(
        &telegram,
        url.clone(),
        secret.expose(),
        config.mini_app_url.as_ref(),
        &registration::owner_chats(&config),
    )
    .await?;
    let info = telegram.call(telegram.bot.get_webhook_info()).await?;
    println!(
        "webhook set to {url} (pending updates: {}, last error: {})",
        info.pending_update_count,
        info.last_error_message.as_deref().unwrap_or("none")
    );
    Ok(())
}

/// Demo styles to try generation with: prompt templates only, no extra LoRA weights.
pub fn demo_styles() -> Vec<NewStyle> {
    [
        (
            "Business portrait",
            "Studio headshot in a suit",
            "professional business portrait, {prompt}, studio lighting, 85mm lens",
        ),
        (
            "Film noir",
            "Black and white, dramatic shadows",
            "black and white film noir photo, {prompt}, dramatic shadows, 1940s",
        ),
        (
            "Cyberpunk",
            "Neon city at night",
            "{prompt}, cyberpunk city at night, neon lights, rain, cinematic",
        ),
        (
            "Watercolor",
            "A soft painted portrait",
            "watercolor painting, {prompt}, soft pastel colors, paper texture",
        ),
    ]
    .into_iter()
    .map(|(name, description, template)| NewStyle {
        name: name.to_owned(),
        description: description.to_owned(),
        prompt_template: template.to_owned(),
        lora_url: None,
        lora_scale: 1.0,
        ..Default::default()
    })
    .collect()
}

pub async fn seed_styles() -> CliResult {
    let config = config()?;
    let (db, cluster) = database(&config).await?;
    let result = async {
        db.migrate().await?;
        let conn = db.conn().await?;
        for style in demo_styles() {
            match styles::create(&**conn, &style).await? {
                Some(created) => println!("added style #{} {}", created.id, created.name),
                None => println!("style {} exists", style.name),
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .await;
    stop(cluster);
    result
}
