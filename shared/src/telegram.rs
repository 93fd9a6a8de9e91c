//! The Telegram Bot API client (teloxide-core), with the delivery rules every sender follows:
//! a 429 waits `retry_after` and tries again (when the wait is short enough for a webhook), and a
//! user who blocked the bot (403) is reported as [`TelegramError::Blocked`] so the caller marks them.

use std::time::Duration;

use teloxide_core::errors::{ApiError, RequestError};
use teloxide_core::requests::{Output, Request, Requester};
use teloxide_core::Bot;
use tokio::sync::OnceCell;

use crate::config::{Secret, TelegramConfig};
use crate::fetch::{self, FetchError, Photo};

/// The longest 429 wait we sit out inside one invocation; longer ones fail the attempt (and Telegram,
/// SQS or Replicate deliver again later).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    /// The user blocked the bot, deleted their account, or never started it.
    #[error("the user cannot be messaged (blocked the bot or deactivated)")]
    Blocked,
    #[error("Telegram asks to wait {0:?} before the next message")]
    RateLimited(Duration),
    #[error("Bot API call failed")]
    Request(#[source] RequestError),
}

/// Why a file sent to the bot could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("getFile failed")]
    Telegram(#[from] TelegramError),
    #[error("the file's path is not a URL")]
    BadPath,
    #[error("downloading the file failed: {0}")]
    Fetch(#[from] FetchError),
}

/// The bot: a teloxide-core [`Bot`] pointed at `TELEGRAM_API_URL`.
#[derive(Clone, Debug)]
pub struct Telegram {
    pub bot: Bot,
    username: std::sync::Arc<OnceCell<String>>,
    /// For file URLs (`<api>/file/bot<token>/<path>`), which are never logged.
    api_url: url::Url,
    token: Secret,
    http: reqwest::Client,
}

impl Telegram {
    /// `None` when no bot token is configured.
    pub fn from_config(config: &TelegramConfig, http: reqwest::Client) -> Option<Self> {
        let token = config.bot_token.as_ref()?;
        let bot =
            Bot::with_client(token.expose(), http.clone()).set_api_url(config.api_url.clone());
        let username = OnceCell::new();
        if let Some(name) = &config.bot_username {
            let _ = username.set(name.clone());
        }
        Some(Self {
            bot,
            username: std::sync::Arc::new(username),
            api_url: config.api_url.clone(),
            token: token.clone(),
            http,
        })
    }

    /// Where a file sent to the bot is downloaded from (getFile). The URL holds the bot token:
    /// never log it.
    pub async fn file_url(&self, file_id: &str) -> Result<url::Url, DownloadError> {
        let file = self
            .call(self.bot.get_file(file_id.to_owned().into()))
            .await?;
        self.api_url
            .join(&format!("file/bot{}/{}", self.token.expose(), file.path))
            .map_err(|_| DownloadError::BadPath)
    }

    /// Downloads a file sent to the bot as a photo ([`fetch::read_photo`]: capped, known to be an
    /// image) within `timeout`.
    pub async fn download_photo(
        &self,
        file_id: &str,
        timeout: Duration,
    ) -> Result<Photo, DownloadError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let url = self.file_url(file_id).await?;
        let response = tokio::time::timeout_at(deadline, self.http.get(url).send())
            .await
            .map_err(|_| FetchError::Timeout)?
            .map_err(|e| {
                let e = e.without_url();
                if e.is_timeout() {
                    FetchError::Timeout
                } else {
                    FetchError::Broken(crate::telemetry::error_chain(&e))
                }
            })?;
        Ok(fetch::read_photo(response, deadline).await?)
    }

    /// Sends a request, sitting out short 429s, and classifying "blocked" answers.
    pub async fn call<R>(&self, request: R) -> Result<Output<R>, TelegramError>
    where
        R: Request<Err = RequestError>,
    {
        let mut attempt = 0;
        loop {
            match request.send_ref().await {
                Ok(output) => return Ok(output),
                Err(RequestError::RetryAfter(wait)) => {
                    let wait = wait.duration();
                    if wait > MAX_RETRY_AFTER || attempt >= 2 {
                        return Err(TelegramError::RateLimited(wait));
                    }
                    attempt += 1;
                    tracing::info!(wait_secs = wait.as_secs(), "Bot API rate limit, waiting");
                    tokio::time::sleep(wait).await;
                }
                Err(RequestError::Api(
                    ApiError::BotBlocked
                    | ApiError::UserDeactivated
                    | ApiError::CantInitiateConversation
                    | ApiError::BotKicked
                    | ApiError::BotKickedFromSupergroup,
                )) => return Err(TelegramError::Blocked),
                Err(e) => return Err(TelegramError::Request(e)),
            }
        }
    }

    /// The bot's @username (for links), from config or getMe once per cold start.
    pub async fn username(&self) -> Result<&str, TelegramError> {
        self.username
            .get_or_try_init(|| async {
                let me = self.call(self.bot.get_me()).await?;
                Ok(me.user.username.clone().unwrap_or_default())
            })
            .await
            .map(String::as_str)
    }

    /// `https://t.me/<bot>?start=<payload>`
    pub async fn start_link(&self, payload: &str) -> Result<String, TelegramError> {
        Ok(format!(
            "https://t.me/{}?start={payload}",
            self.username().await?
        ))
    }
}
