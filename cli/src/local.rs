//! `dream-photo serve`: the whole backend on one machine, with the same routes as API Gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use shared::config::StorageConfig;
use shared::config::{Config, Secret};
use shared::queue::{TrainingJob, TrainingQueue};
use shared::services::Services;
use shared::telemetry::error_chain;
use teloxide_core::payloads::GetUpdatesSetters;
use teloxide_core::requests::Requester;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::ops::CliResult;

use crate::cluster::{local_database, LOCAL_PG_PORT};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The port to serve on.
    #[arg(long, default_value_t = 8000, env = "PORT")]
    pub port: u16,
    /// The address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Where the private Postgres cluster lives when DATABASE_URL is unset.
    #[arg(long, default_value = ".data/postgres")]
    pub data_dir: PathBuf,
    /// The private cluster's port (on 127.0.0.1).
    #[arg(long, default_value_t = LOCAL_PG_PORT)]
    pub pg_port: u16,
}

pub async fn serve(args: ServeArgs) -> CliResult {
    let mut config = Config::from_env()?;
    let explicit_pool = std::env::var("DATABASE_POOL_SIZE").is_ok_and(|v| !v.trim().is_empty());
    config.database.pool_size = serve_pool_size(
        explicit_pool.then_some(config.database.pool_size),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    // Objects in a directory beside the database unless told otherwise, served at this address
    // when no public URL is given.
    let here = match std::env::var("STORAGE_PUBLIC_URL") {
        Ok(v) if !v.trim().is_empty() => {
            url::Url::parse(v.trim()).map_err(|e| format!("STORAGE_PUBLIC_URL: {e}"))?
        }
        _ => url::Url::parse(&format!("http://{}", SocketAddr::new(args.host, args.port)))
            .expect("an address is a URL"),
    };
    config.storage = match config.storage {
        StorageConfig::None => StorageConfig::Local {
            dir: ".data/objects".into(),
            public_url: Some(here.clone()),
            signing_key: None,
        },
        StorageConfig::Local {
            dir,
            public_url,
            signing_key,
        } => StorageConfig::Local {
            dir,
            public_url: public_url.or(Some(here)),
            signing_key,
        },
        s3 => s3,
    };
    let mut cluster = None;
    if config.database.url.is_none() {
        let (started, url) = local_database(&args.data_dir, args.pg_port).await?;
        tracing::info!(port = started.port, "private PostgreSQL cluster ready");
        config.database.url = Some(Secret::new(url));
        cluster = Some(started);
    }

    let result = run(config, &args).await;
    if let Some(cluster) = cluster {
        if cluster.started_here() {
            tracing::info!("stopping PostgreSQL");
            tokio::task::spawn_blocking(move || cluster.stop()).await?;
        }
    }
    result
}

async fn run(config: Config, args: &ServeArgs) -> CliResult {
    let (queue, jobs) = TrainingQueue::in_process();
    let services = Services::new(config, queue)?;
    let applied = services.db().migrate().await?;
    tracing::info!(applied, "migrations up to date");

    let telegram_state = telegram_webhook::State::new(services.clone());
    let worker_state = training_worker::State::new(services.clone());
    let app: Router = Router::new()
        .merge(telegram_webhook::router(telegram_state.clone()))
        .merge(replicate_webhook::router(replicate_webhook::State::new(
            services.clone(),
        )))
        .merge(api::router(api::State::new(services.clone())));

    let mut background = tokio::task::JoinSet::new();
    background.spawn(run_worker(worker_state.clone(), jobs));
    if services.replicate.is_some() {
        background.spawn(run_sweeps(services.clone()));
    }
    if services.telegram.is_some() && services.config.public_url.is_none() {
        background.spawn(long_poll(telegram_state));
    }

    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("serving on http://{addr} (health: /health, API docs: /docs)");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    background.shutdown().await;
    Ok(())
}

/// Ctrl+C, or a SIGTERM from a process manager.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// The in-process stand-in for SQS: each job goes through the worker's batch handler, which has a
/// job that failed for now sent again after a backoff (the queue's `retry_later`), up to the max
/// receives the deployed queue's redrive allows.
async fn run_worker(state: Arc<training_worker::State>, mut jobs: UnboundedReceiver<TrainingJob>) {
    while let Some(job) = jobs.recv().await {
        let state = state.clone();
        tokio::spawn(async move {
            let event: aws_lambda_events::sqs::SqsEvent =
                serde_json::from_value(serde_json::json!({
                    "Records": [{
                        "messageId": format!("local-{}", job.model_id),
                        "body": serde_json::to_string(&job).expect("a job serialises"),
                    }]
                }))
                .expect("a valid SQS event");
            let response = training_worker::handle_batch(&state, event).await;
            if !response.batch_item_failures.is_empty() {
                tracing::error!(
                    model_id = job.model_id,
                    "training job failed for the last time; on AWS it would now be in the DLQ"
                );
            }
        });
    }
}

/// Without a public URL Replicate cannot call us: poll in-flight jobs (with one, catch lost webhooks).
async fn run_sweeps(services: Services) {
    let every = if services.config.public_url.is_some() {
        300
    } else {
        10
    };
    let mut interval = tokio::time::interval(Duration::from_secs(every));
    loop {
        interval.tick().await;
        if let Err(e) = training_worker::scheduled(&services).await {
            tracing::error!(error = %e, "sweep failed");
        }
    }
}

/// Without a public URL Telegram cannot call us either: long-poll and feed the webhook's handler.
async fn long_poll(state: Arc<telegram_webhook::State>) {
    let Ok(telegram) = state.services.telegram() else {
        return;
    };
    let mut offset: i32 = 0;
    tracing::info!("no PUBLIC_URL: receiving Telegram updates by long polling");
    loop {
        let request = telegram
            .bot
            .get_updates()
            .offset(offset)
            .timeout(25)
            .allowed_updates(telegram_webhook::registration::allowed_updates());
        let updates = match request.await {
            Ok(updates) => updates,
            Err(teloxide_core::RequestError::Api(
                teloxide_core::ApiError::TerminatedByOtherGetUpdates,
            )) => {
                tracing::error!("another process is polling this bot; long polling stops");
                return;
            }
            Err(e) => {
                let text = e.to_string();
                if text.contains("webhook") {
                    tracing::error!("this bot has a webhook set; long polling stays off (dream-photo set-webhook --delete to use it here)");
                    return;
                }
                tracing::warn!(error = %error_chain(&e), "getUpdates failed; retrying");
                tokio::time::sleep(Duration::from_secs(3)).await;
                continue;
            }
        };
        for update in updates {
            let next = update.id.0 as i32 + 1;
            if let Err(e) = telegram_webhook::process_polled_update(&state, update).await {
                tracing::warn!(error = %error_chain(&e), "update failed; it will be fetched again");
                tokio::time::sleep(Duration::from_secs(2)).await;
                break;
            }
            offset = next;
        }
    }
}

/// `serve`'s pool: what `DATABASE_POOL_SIZE` says, or else one that fits the machine (four
/// connections a core, 8 to 32), whichever database it uses. A Lambda keeps its default of one:
/// it serves one request at a time.
fn serve_pool_size(explicit: Option<usize>, cores: usize) -> usize {
    explicit.unwrap_or((cores * 4).clamp(8, 32))
}

#[cfg(test)]
mod tests {
    use super::serve_pool_size;

    #[test]
    fn serve_sizes_its_pool_for_the_machine_unless_told() {
        assert_eq!(serve_pool_size(None, 1), 8);
        assert_eq!(serve_pool_size(None, 4), 16);
        assert_eq!(serve_pool_size(None, 64), 32);
        assert_eq!(serve_pool_size(Some(3), 64), 3);
    }
}
