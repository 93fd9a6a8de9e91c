//! Configuration from the environment (and a `.env` file on one machine).
//!
//! Every part of the backend that needs a setting reads it from [`Config`]. A setting that is absent
//! disables the part that needs it (and that part says which variable enables it); a setting that is
//! present but malformed is a start-up error naming the variable. Secrets are wrapped in [`Secret`],
//! whose `Debug` never shows the value.

use std::fmt;

use url::Url;

/// A start-up error: which variable, and what is wrong with it (never its value).
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

/// A string that must never reach a log line or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The public Bot API; tests and local runs point `TELEGRAM_API_URL` at a fake.
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";
/// The public Replicate API, version 1.
pub const DEFAULT_REPLICATE_API_URL: &str = "https://api.replicate.com/v1";

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/db?sslmode=require`; `sslmode=require` turns TLS on.
    pub url: Option<Secret>,
    /// Connections per Lambda instance. One is right for an HTTP Lambda (one request at a time);
    /// RDS Proxy multiplexes many Lambdas onto few database connections.
    pub pool_size: usize,
    /// Use an RDS IAM auth token (made fresh for every new connection) instead of the URL's password.
    pub iam_auth: bool,
    /// The AWS region for IAM tokens (Lambda sets `AWS_REGION`).
    pub aws_region: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub bot_token: Option<Secret>,
    pub webhook_secret: Option<Secret>,
    pub api_url: Url,
    /// The bot's @username, for referral links; looked up with getMe when absent.
    pub bot_username: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReplicateConfig {
    pub api_token: Option<Secret>,
    /// `whsec_<base64>`, checked at start-up.
    pub webhook_secret: Option<Secret>,
    pub api_url: Url,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub telegram: TelegramConfig,
    pub replicate: ReplicateConfig,
    /// Our own base URL (API Gateway's, or a tunnel's), for the webhook URLs we hand out.
    pub public_url: Option<Url>,
    /// The owners: Telegram user ids allowed to use admin commands and routes.
    pub admin_ids: Vec<i64>,
    /// Where admin notifications go (a user or a group chat id).
    pub admin_chat_id: Option<i64>,
    /// The SQS queue of training jobs; unset on one machine, where an in-process queue stands in.
    pub training_queue_url: Option<String>,
    /// Origins the REST API answers CORS requests from.
    pub cors_origins: Vec<String>,
}

impl Config {
    /// Reads the process environment. Call [`load_dotenv`] first on one machine.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`, so tests can configure without touching the process env.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let database = DatabaseConfig {
            url: get("DATABASE_URL").map(Secret::new),
            pool_size: parse_or(get("DATABASE_POOL_SIZE"), "DATABASE_POOL_SIZE", 1usize)?,
            iam_auth: parse_bool(get("DATABASE_IAM_AUTH"), "DATABASE_IAM_AUTH")?,
            aws_region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        };
        if database.pool_size == 0 {
            return Err(ConfigError::new("DATABASE_POOL_SIZE", "must be at least 1"));
        }
        if let Some(url) = &database.url {
            url.expose()
                .parse::<tokio_postgres::Config>()
                .map_err(|_| ConfigError::new("DATABASE_URL", "is not a valid postgres:// URL"))?;
        }
        if database.iam_auth && database.aws_region.is_none() {
            return Err(ConfigError::new(
                "DATABASE_IAM_AUTH",
                "needs AWS_REGION to sign IAM auth tokens",
            ));
        }

        let bot_token = get("TELEGRAM_BOT_TOKEN").map(Secret::new);
        if let Some(token) = &bot_token {
            if !is_bot_token(token.expose()) {
                return Err(ConfigError::new(
                    "TELEGRAM_BOT_TOKEN",
                    "is not a bot token (expected <bot id>:<secret> as BotFather gives it)",
                ));
            }
        }
        let webhook_secret = get("TELEGRAM_WEBHOOK_SECRET").map(Secret::new);
        if let Some(secret) = &webhook_secret {
            let s = secret.expose();
            if s.len() > 256
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(ConfigError::new(
                    "TELEGRAM_WEBHOOK_SECRET",
                    "must be 1-256 characters of A-Z a-z 0-9 _ - (Telegram's rule for secret_token)",
                ));
            }
        }
        let telegram = TelegramConfig {
            bot_token,
            webhook_secret,
            api_url: parse_url(
                get("TELEGRAM_API_URL"),
                "TELEGRAM_API_URL",
                DEFAULT_TELEGRAM_API_URL,
            )?,
            bot_username: get("TELEGRAM_BOT_USERNAME")
                .map(|u| u.trim_start_matches('@').to_owned()),
        };

        let replicate_secret = get("REPLICATE_WEBHOOK_SECRET").map(Secret::new);
        if let Some(secret) = &replicate_secret {
            crate::signature::WebhookSecret::parse(secret.expose())
                .map_err(|e| ConfigError::new("REPLICATE_WEBHOOK_SECRET", e.to_string()))?;
        }
        let replicate = ReplicateConfig {
            api_token: get("REPLICATE_API_TOKEN").map(Secret::new),
            webhook_secret: replicate_secret,
            api_url: parse_url(
                get("REPLICATE_API_URL"),
                "REPLICATE_API_URL",
                DEFAULT_REPLICATE_API_URL,
            )?,
        };

        let public_url = get("PUBLIC_URL")
            .map(|v| parse_url(Some(v), "PUBLIC_URL", ""))
            .transpose()?;

        let admin_ids = match get("ADMIN_IDS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<i64>().map_err(|_| {
                        ConfigError::new("ADMIN_IDS", "must be comma-separated Telegram user ids")
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let admin_chat_id = get("ADMIN_CHAT_ID")
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ConfigError::new("ADMIN_CHAT_ID", "must be a Telegram chat id"))
            })
            .transpose()?;

        let training_queue_url = get("TRAINING_QUEUE_URL");
        if let Some(url) = &training_queue_url {
            Url::parse(url)
                .map_err(|_| ConfigError::new("TRAINING_QUEUE_URL", "must be an SQS queue URL"))?;
        }

        let cors_origins = match get("CORS_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|origin| {
                    if origin == "*" {
                        return Err(ConfigError::new(
                            "CORS_ORIGINS",
                            "list the allowed origins; `*` is not allowed with credentials",
                        ));
                    }
                    let url = Url::parse(origin).map_err(|_| {
                        ConfigError::new(
                            "CORS_ORIGINS",
                            "each origin must be like https://app.example.com",
                        )
                    })?;
                    Ok(url.origin().ascii_serialization())
                })
                .collect::<Result<_, _>>()?,
        };

        Ok(Self {
            database,
            telegram,
            replicate,
            public_url,
            admin_ids,
            admin_chat_id,
            training_queue_url,
            cors_origins,
        })
    }

    pub fn is_admin(&self, user_id: i64) -> bool {
        self.admin_ids.contains(&user_id)
    }

    /// Our URL for `path` (e.g. `/replicate/webhook`), when we have a public URL.
    pub fn public_endpoint(&self, path: &str) -> Option<Url> {
        self.public_url
            .as_ref()
            .and_then(|base| base.join(path.trim_start_matches('/')).ok())
    }
}

/// Loads `.env` from the working directory if there is one; the process environment wins.
pub fn load_dotenv() {
    // A missing file is normal; a malformed one is reported by the variables it fails to set.
    let _ = dotenvy::dotenv();
}

fn is_bot_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        None => false,
    }
}

fn parse_or<T: std::str::FromStr>(
    value: Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError::new(var, format!("`{v}` is not a valid number"))),
    }
}

fn parse_bool(value: Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(_) => Err(ConfigError::new(var, "must be true or false")),
    }
}

fn parse_url(value: Option<String>, var: &'static str, default: &str) -> Result<Url, ConfigError> {
    let raw = value.unwrap_or_else(|| default.to_owned());
    let mut url =
        Url::parse(&raw).map_err(|_| ConfigError::new(var, "must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ConfigError::new(var, "must be an http(s) URL"));
    }
    // A trailing slash makes `join` append rather than replace the last segment.
    if !url.path().ends_with('/') {
        url.set_path(&format!("{}/", url.path()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_configured_still_starts() {
        let c = config(&[]).unwrap();
        assert!(c.telegram.bot_token.is_none());
        assert_eq!(c.database.pool_size, 1);
        assert_eq!(c.telegram.api_url.as_str(), "https://api.telegram.org/");
    }

    #[test]
    fn malformed_settings_name_the_variable_without_the_value() {
        let err = config(&[("TELEGRAM_BOT_TOKEN", "nonsense-secret")]).unwrap_err();
        assert_eq!(err.var, "TELEGRAM_BOT_TOKEN");
        assert!(!err.to_string().contains("nonsense-secret"));
        assert_eq!(
            config(&[("ADMIN_IDS", "1,x")]).unwrap_err().var,
            "ADMIN_IDS"
        );
        assert_eq!(
            config(&[("REPLICATE_WEBHOOK_SECRET", "nope")])
                .unwrap_err()
                .var,
            "REPLICATE_WEBHOOK_SECRET"
        );
        assert_eq!(
            config(&[("CORS_ORIGINS", "*")]).unwrap_err().var,
            "CORS_ORIGINS"
        );
        assert_eq!(
            config(&[("DATABASE_POOL_SIZE", "0")]).unwrap_err().var,
            "DATABASE_POOL_SIZE"
        );
        assert_eq!(
            config(&[("TELEGRAM_WEBHOOK_SECRET", "has space")])
                .unwrap_err()
                .var,
            "TELEGRAM_WEBHOOK_SECRET"
        );
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = config(&[("TELEGRAM_BOT_TOKEN", "123:ABCsecret")]).unwrap();
        assert!(!format!("{c:?}").contains("ABCsecret"));
    }

    #[test]
    fn lists_and_urls_parse() {
        let c = config(&[
            ("ADMIN_IDS", " 1, 2 ,3"),
            ("PUBLIC_URL", "https://x.example.com/prod"),
            (
                "CORS_ORIGINS",
                "https://a.example.com/, http://localhost:5173",
            ),
        ])
        .unwrap();
        assert_eq!(c.admin_ids, vec![1, 2, 3]);
        assert_eq!(
            c.public_endpoint("/replicate/webhook").unwrap().as_str(),
            "https://x.example.com/prod/replicate/webhook"
        );
        assert_eq!(
            c.cors_origins,
            vec!["https://a.example.com", "http://localhost:5173"]
        );
    }
}
