//! Everything a function needs, built once per cold start from [`Config`]: the database pool (lazy),
//! the bot, the Replicate client, the training queue, one shared HTTP client, and the guarded
//! fetcher for URLs people give us (its own client, without our tokens: [`crate::fetch`]).
//!
//! The database is required: without `DATABASE_URL` a function does not start. The bot and Replicate
//! are optional (one machine can serve the API without them): a part whose settings are missing is
//! `None`, and asking for it yields [`Unavailable`], which says which variable enables it (the route
//! that needs it answers 503 with that message; an effect that needs it waits).

use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError};
use crate::db::{Db, DbError};
use crate::domain::photos::Checker;
use crate::fetch::PhotoFetcher;
use crate::queue::TrainingQueue;
use crate::replicate::Replicate;
use crate::storage::{Storage, StorageError};
use crate::telegram::Telegram;

/// A part of the backend that is not configured here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{what} is not configured: set {var}")]
pub struct Unavailable {
    pub what: &'static str,
    pub var: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("could not build the HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
}

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub telegram: Option<Telegram>,
    pub replicate: Option<Replicate>,
    pub queue: TrainingQueue,
    pub http: reqwest::Client,
    /// The only way to fetch a URL a user gave us.
    pub photos: PhotoFetcher,
    /// Where photos and generated images are kept.
    pub storage: Option<Storage>,
    /// The check of training photos (`None` with `PHOTO_CHECK=false`).
    pub photo_check: Option<Arc<Checker>>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("db", &self.db)
            .field("telegram", &self.telegram.is_some())
            .finish()
    }
}

impl Services {
    /// Builds the services the environment configures (SQS when `TRAINING_QUEUE_URL` is set), with
    /// the secrets it names read from Secrets Manager ([`crate::secrets`]).
    pub async fn from_env() -> Result<Self, StartupError> {
        let env = |name: &str| std::env::var(name).ok();
        let secrets = crate::secrets::resolve(&env).await?;
        let config = Config::from_lookup(|name| secrets.get(name).cloned().or_else(|| env(name)))?;
        let queue = match &config.training_queue_url {
            Some(url) => TrainingQueue::sqs(url.clone()),
            None => TrainingQueue::Disabled,
        };
        Self::new(config, queue)
    }

    /// Builds the services of `config` with the given queue (on one machine and in tests, in-process).
    pub fn new(config: Config, queue: TrainingQueue) -> Result<Self, StartupError> {
        let http = crate::http_client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(25))
            .user_agent(concat!("dream-photo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StartupError::Http(e.to_string()))?;
        let photos = PhotoFetcher::new(&config.photo_fetch)
            .map_err(|e| StartupError::Http(e.to_string()))?;
        let db = Db::connect_lazy(&config.database)?;
        let telegram = Telegram::from_config(&config.telegram, http.clone());
        if telegram.is_none() {
            tracing::warn!("no TELEGRAM_BOT_TOKEN: the bot is off until it is set");
        }
        let replicate = Replicate::from_config(&config.replicate, http.clone());
        if replicate.is_none() {
            tracing::warn!(
                "no REPLICATE_API_TOKEN: training and generation are off until it is set"
            );
        }
        let storage = Storage::from_config(&config.storage)?;
        if storage.is_none() {
            tracing::warn!("no STORAGE_BUCKET or STORAGE_DIR: photos and images cannot be kept until one is set");
        }
        let photo_check = config
            .photo_check
            .enabled
            .then(|| Arc::new(Checker::new(config.photo_check.thresholds)));
        if photo_check.is_none() {
            tracing::warn!("PHOTO_CHECK=false: training photos are not checked");
        }
        Ok(Self {
            config: Arc::new(config),
            db,
            telegram,
            replicate,
            queue,
            http,
            photos,
            storage,
            photo_check,
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn telegram(&self) -> Result<&Telegram, Unavailable> {
        self.telegram.as_ref().ok_or(Unavailable {
            what: "the Telegram bot",
            var: "TELEGRAM_BOT_TOKEN",
        })
    }

    pub fn storage(&self) -> Result<&Storage, Unavailable> {
        self.storage.as_ref().ok_or(Unavailable {
            what: "object storage (photos and generated images)",
            var: "STORAGE_BUCKET or STORAGE_DIR",
        })
    }

    pub fn replicate(&self) -> Result<&Replicate, Unavailable> {
        self.replicate.as_ref().ok_or(Unavailable {
            what: "Replicate (training and generation)",
            var: "REPLICATE_API_TOKEN",
        })
    }
}
