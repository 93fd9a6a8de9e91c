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
/// How old Mini App init data may be by default (what telegram-apps' validators accept): 24 hours.
pub const DEFAULT_INIT_DATA_MAX_AGE_SECONDS: i64 = 60 * 60;

/// Every variable [`Config::from_lookup`] reads (a secret among them may instead be given as
/// `<NAME>_ARN`, see [`crate::secrets::SECRET_SETTINGS`]). The deploy test checks the SAM template
/// against it: a function's environment names only these (and Lambda's own), so a misspelt or stale
/// variable in `template.yaml` fails the suite instead of being ignored in production.
pub const VARIABLES: &[&str] = &[
    "ADMIN_CHAT_ID",
    "ADMIN_IDS",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "CORS_ORIGINS",
    "DATABASE_IAM_AUTH",
    "DATABASE_POOL_SIZE",
    "DATABASE_URL",
    "FREE_REDOS_PER_GENERATION",
    "GENERATION_COST_TOKENS",
    "INIT_DATA_MAX_AGE_SECONDS",
    "JOB_STALE_SECONDS",
    "MINI_APP_URL",
    "PAYMENT_CURRENCY",
    "PAYMENT_PROVIDER_TOKEN",
    "PHOTO_CHECK",
    "PHOTO_CHECK_MAX_HASH_DISTANCE",
    "PHOTO_CHECK_MIN_FACE_SHARE",
    "PHOTO_CHECK_MIN_SHARPNESS",
    "PHOTO_CHECK_MIN_SIDE",
    "PHOTO_FETCH_ALLOW_PRIVATE",
    "PHOTO_FETCH_JOB_TIMEOUT_SECONDS",
    "PHOTO_FETCH_TIMEOUT_SECONDS",
    "PROMPT_BLOCK_LIST",
    "PUBLIC_URL",
    "REFERRAL_BONUS_TOKENS",
    "REPLICATE_API_TOKEN",
    "REPLICATE_API_URL",
    "REPLICATE_DESTINATION_MODEL",
    "REPLICATE_HARDWARE_PRICES",
    "REPLICATE_MODEL_HARDWARE",
    "REPLICATE_TIMEOUT_SECONDS",
    "REPLICATE_TRAINER",
    "REPLICATE_TRAINER_VERSION",
    "REPLICATE_TRAINING_HARDWARE",
    "REPLICATE_UPLOAD_TIMEOUT_SECONDS",
    "REPLICATE_WEBHOOK_SECRET",
    "RETRAINING_COST_TOKENS",
    "REVENUE_USD_RATES",
    "STORAGE_BUCKET",
    "STORAGE_DIR",
    "STORAGE_PUBLIC_URL",
    "STORAGE_SIGNING_KEY",
    "SUPPORT_CONTACT",
    "TELEGRAM_API_URL",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BOT_USERNAME",
    "TELEGRAM_WEBHOOK_SECRET",
    "TOKEN_PACKS",
    "TRAINING_COST_TOKENS",
    "TRAINING_QUEUE_URL",
    "TRAINING_STEPS",
];

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
    /// Seconds one API call may take (`REPLICATE_TIMEOUT_SECONDS`, default 25).
    pub request_timeout_secs: u64,
    /// Seconds a file upload may take (`REPLICATE_UPLOAD_TIMEOUT_SECONDS`, default 180): a zip of
    /// 20 photos can be a few hundred MB.
    pub upload_timeout_secs: u64,
}

/// What Replicate trains with and where the trained versions go.
#[derive(Debug, Clone)]
pub struct TrainingConfig {
    /// The trainer model, `owner/name` (`REPLICATE_TRAINER`).
    pub trainer: String,
    /// Its version id (`REPLICATE_TRAINER_VERSION`); the latest version when unset.
    pub trainer_version: Option<String>,
    /// Where trained versions go, `owner/name` (`REPLICATE_DESTINATION_MODEL`); by default
    /// `<account>/dream-photo-loras`, created private on first use.
    pub destination: Option<String>,
    /// Hardware of the destination model when we create it (`REPLICATE_MODEL_HARDWARE`).
    pub hardware: String,
    /// Training steps (`TRAINING_STEPS`, 3–6000).
    pub steps: u32,
}

/// How the training worker downloads photos from URLs people gave us (see [`crate::fetch`]).
#[derive(Debug, Clone)]
pub struct PhotoFetchConfig {
    /// `PHOTO_FETCH_ALLOW_PRIVATE`: also http URLs and loopback/private addresses. For one machine
    /// and tests with local fakes only; off by default, and never on AWS.
    pub allow_private: bool,
    /// `PHOTO_FETCH_TIMEOUT_SECONDS`: how long one photo may take to download (default 30).
    pub photo_timeout_secs: u64,
    /// `PHOTO_FETCH_JOB_TIMEOUT_SECONDS`: how long all of a training's photos may take (default 150;
    /// less than the worker's 240 s per job, which also uploads the zip).
    pub job_timeout_secs: u64,
}

/// The check of every training photo before the training is paid for (crate `photo-check`).
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoCheckConfig {
    /// `PHOTO_CHECK`: on unless `false` (the test kit turns it off; its tests turn it on).
    pub enabled: bool,
    /// `PHOTO_CHECK_MIN_SIDE` (px, default 512), `PHOTO_CHECK_MIN_SHARPNESS` (default 5),
    /// `PHOTO_CHECK_MAX_HASH_DISTANCE` (bits of 64, default 10), `PHOTO_CHECK_MIN_FACE_SHARE`
    /// (0-1, default 0.15).
    pub thresholds: photo_check::Thresholds,
}

/// Where photos and generated images are kept (see [`crate::storage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// No storage configured: uploads, training and generation wait for it.
    None,
    /// An S3 bucket (`STORAGE_BUCKET`), in `AWS_REGION`; `AWS_ENDPOINT_URL_S3` points elsewhere (moto).
    S3 {
        bucket: String,
        region: String,
        endpoint: Option<String>,
        /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` when set (Lambda sets
        /// them); otherwise the default chain (container or instance credentials).
        credentials: Option<AwsKeys>,
    },
    /// A directory on this machine (`STORAGE_DIR`), its objects served by the API itself at
    /// `<public_url>/objects/...` through URLs signed with `signing_key`.
    Local {
        dir: std::path::PathBuf,
        /// `STORAGE_PUBLIC_URL`, else `PUBLIC_URL`; `serve` fills in its own address when neither is set.
        public_url: Option<Url>,
        /// `STORAGE_SIGNING_KEY`; without it, a random key per process (URLs die with the process).
        signing_key: Option<Secret>,
    },
}

/// AWS keys read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// A pack of tokens for sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPack {
    pub id: String,
    pub tokens: i64,
    /// In minor units of `currency` (stars for XTR, kopecks for RUB).
    pub price: i64,
    pub currency: String,
}

/// Prices and the referral bonus, in tokens; token packs and how they are paid.
/// The shortest `TELEGRAM_WEBHOOK_SECRET` we accept.
pub const MIN_WEBHOOK_SECRET_LEN: usize = 32;

#[derive(Debug, Clone)]
pub struct ProductConfig {
    /// Tokens a training costs (`TRAINING_COST_TOKENS`).
    pub training_cost: i64,
    /// Tokens retraining a ready model with more photos costs (`RETRAINING_COST_TOKENS`).
    pub retraining_cost: i64,
    /// Tokens one generated image costs (`GENERATION_COST_TOKENS`).
    pub generation_cost: i64,
    /// Tokens a referrer earns on their invitee's first payment (`REFERRAL_BONUS_TOKENS`).
    pub referral_bonus: i64,
    /// `TOKEN_PACKS`: `id:tokens:price` items, comma-separated, priced in `PAYMENT_CURRENCY`.
    pub packs: Vec<TokenPack>,
    /// `XTR` (Telegram Stars, the default and what digital goods require) or a provider currency.
    pub currency: String,
    /// The payment provider's token (`PAYMENT_PROVIDER_TOKEN`); required for any currency but XTR.
    pub provider_token: Option<Secret>,
    /// `PROMPT_BLOCK_LIST`: words and phrases (comma-separated) a prompt is refused for, before
    /// anything is paid.
    pub block_list: Vec<String>,
    /// `FREE_REDOS_PER_GENERATION`: free redos a paid generation rated 1 or 2 earns (default 1; 0
    /// switches them off).
    pub free_redos: i64,
}

impl ProductConfig {
    pub fn pack(&self, id: &str) -> Option<&TokenPack> {
        self.packs.iter().find(|p| p.id == id)
    }
}

/// What Replicate's hardware costs us and what a unit of revenue is worth, in US dollars: the
/// admins' costs and margins.
#[derive(Debug, Clone, PartialEq)]
pub struct CostConfig {
    /// `REPLICATE_TRAINING_HARDWARE`: what the trainer runs on (its model page says; `gpu-h100`).
    /// Generations run on the destination model's hardware (`REPLICATE_MODEL_HARDWARE`).
    pub training_hardware: String,
    /// `REPLICATE_HARDWARE_PRICES`: `hardware:usd_per_second` items, comma-separated (Replicate's
    /// price list); both hardwares we use must be priced.
    pub hardware_prices: Vec<(String, f64)>,
    /// `REVENUE_USD_RATES`: `currency:usd_per_minor_unit` items (a star, a cent, a kopeck);
    /// payments in a currency with none (`PAYMENT_CURRENCY` included, which is warned of at start)
    /// are left out of margins.
    pub usd_rates: Vec<(String, f64)>,
}

/// Replicate's public prices per second (2025) of the hardware a FLUX LoRA trains and runs on.
pub const DEFAULT_HARDWARE_PRICES: &str =
    "gpu-t4:0.000225,gpu-l40s:0.000975,gpu-a100-large:0.0014,gpu-h100:0.001525";
/// What Telegram pays a developer for a star, in US dollars.
pub const DEFAULT_USD_RATES: &str = "XTR:0.013";

impl CostConfig {
    /// The price per second of `hardware`, if it has one.
    pub fn price_per_second(&self, hardware: &str) -> Option<f64> {
        self.hardware_prices
            .iter()
            .find(|(name, _)| name == hardware)
            .map(|(_, price)| *price)
    }
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
    /// `SUPPORT_CONTACT`: whom people write to about payments and their account (`@username`, an
    /// https link or an e-mail address); the first owner when unset.
    pub support_contact: Option<String>,
    /// `MINI_APP_URL`: the Mini App (https), which the bot's menu button and a few of its buttons
    /// open; unset, the bot offers none.
    pub mini_app_url: Option<Url>,
    /// The SQS queue of training jobs; unset on one machine, where an in-process queue stands in.
    pub training_queue_url: Option<String>,
    /// Origins the REST API answers CORS requests from.
    pub cors_origins: Vec<String>,
    pub training: TrainingConfig,
    pub photo_fetch: PhotoFetchConfig,
    pub photo_check: PhotoCheckConfig,
    pub storage: StorageConfig,
    pub product: ProductConfig,
    pub costs: CostConfig,
    /// `JOB_STALE_SECONDS`: a training or generation with no news for this long is checked with Replicate.
    pub job_stale_seconds: Option<i64>,
    /// `INIT_DATA_MAX_AGE_SECONDS`: how old a Mini App's init data (its `auth_date`) may be for the
    /// REST API to accept it; 24 hours by default.
    pub init_data_max_age_seconds: i64,
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
            if !(MIN_WEBHOOK_SECRET_LEN..=256).contains(&s.len())
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                // Anyone who guesses it can post updates as any user (payments included).
                return Err(ConfigError::new(
                    "TELEGRAM_WEBHOOK_SECRET",
                    "must be 32-256 characters of A-Z a-z 0-9 _ - (long enough not to be guessed; \
                     Telegram allows only these characters), e.g. the output of `openssl rand -hex 32`",
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
            request_timeout_secs: seconds(
                get("REPLICATE_TIMEOUT_SECONDS"),
                "REPLICATE_TIMEOUT_SECONDS",
                25,
            )?,
            upload_timeout_secs: seconds(
                get("REPLICATE_UPLOAD_TIMEOUT_SECONDS"),
                "REPLICATE_UPLOAD_TIMEOUT_SECONDS",
                180,
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
        let support_contact = get("SUPPORT_CONTACT");
        if support_contact
            .as_deref()
            .is_some_and(|c| c.chars().count() > 128 || c.chars().any(char::is_control))
        {
            return Err(ConfigError::new(
                "SUPPORT_CONTACT",
                "must be one line of at most 128 characters (@username, a link or an e-mail)",
            ));
        }
        let mini_app_url = get("MINI_APP_URL")
            .map(|v| match v.parse::<Url>() {
                Ok(url) if url.scheme() == "https" => Ok(url),
                _ => Err(ConfigError::new(
                    "MINI_APP_URL",
                    "must be an https URL (Telegram opens Mini Apps over TLS only)",
                )),
            })
            .transpose()?;
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

        let training = TrainingConfig {
            trainer: get("REPLICATE_TRAINER")
                .unwrap_or_else(|| "ostris/flux-dev-lora-trainer".to_owned()),
            trainer_version: get("REPLICATE_TRAINER_VERSION"),
            destination: get("REPLICATE_DESTINATION_MODEL"),
            hardware: get("REPLICATE_MODEL_HARDWARE").unwrap_or_else(|| "gpu-l40s".to_owned()),
            steps: parse_or(get("TRAINING_STEPS"), "TRAINING_STEPS", 1000u32)?,
        };
        for (var, value) in [
            ("REPLICATE_TRAINER", Some(&training.trainer)),
            ("REPLICATE_DESTINATION_MODEL", training.destination.as_ref()),
        ] {
            if let Some(v) = value {
                if v.split('/').count() != 2 || v.split('/').any(str::is_empty) {
                    return Err(ConfigError::new(var, "must be owner/name"));
                }
            }
        }
        if !(3..=6000).contains(&training.steps) {
            return Err(ConfigError::new(
                "TRAINING_STEPS",
                "must be between 3 and 6000",
            ));
        }

        let photo_fetch = PhotoFetchConfig {
            allow_private: parse_bool(
                get("PHOTO_FETCH_ALLOW_PRIVATE"),
                "PHOTO_FETCH_ALLOW_PRIVATE",
            )?,
            photo_timeout_secs: seconds(
                get("PHOTO_FETCH_TIMEOUT_SECONDS"),
                "PHOTO_FETCH_TIMEOUT_SECONDS",
                30,
            )?,
            job_timeout_secs: seconds(
                get("PHOTO_FETCH_JOB_TIMEOUT_SECONDS"),
                "PHOTO_FETCH_JOB_TIMEOUT_SECONDS",
                150,
            )?,
        };
        if photo_fetch.job_timeout_secs > 200 {
            // The worker gives a whole job 240 s, and the zip still has to be uploaded.
            return Err(ConfigError::new(
                "PHOTO_FETCH_JOB_TIMEOUT_SECONDS",
                "must be at most 200 seconds",
            ));
        }

        let defaults = photo_check::Thresholds::default();
        let photo_check = PhotoCheckConfig {
            enabled: !matches!(
                get("PHOTO_CHECK")
                    .map(|v| parse_bool(Some(v), "PHOTO_CHECK"))
                    .transpose()?,
                Some(false)
            ),
            thresholds: photo_check::Thresholds {
                min_side: parse_or(
                    get("PHOTO_CHECK_MIN_SIDE"),
                    "PHOTO_CHECK_MIN_SIDE",
                    defaults.min_side,
                )?,
                min_sharpness: parse_or(
                    get("PHOTO_CHECK_MIN_SHARPNESS"),
                    "PHOTO_CHECK_MIN_SHARPNESS",
                    defaults.min_sharpness,
                )?,
                max_hash_distance: parse_or(
                    get("PHOTO_CHECK_MAX_HASH_DISTANCE"),
                    "PHOTO_CHECK_MAX_HASH_DISTANCE",
                    defaults.max_hash_distance,
                )?,
                min_face_share: parse_or(
                    get("PHOTO_CHECK_MIN_FACE_SHARE"),
                    "PHOTO_CHECK_MIN_FACE_SHARE",
                    defaults.min_face_share,
                )?,
            },
        };
        let t = &photo_check.thresholds;
        if t.max_hash_distance > 64 {
            return Err(ConfigError::new(
                "PHOTO_CHECK_MAX_HASH_DISTANCE",
                "must be 0 to 64 bits",
            ));
        }
        if !(0.0..=1.0).contains(&t.min_face_share) {
            return Err(ConfigError::new(
                "PHOTO_CHECK_MIN_FACE_SHARE",
                "must be between 0 and 1",
            ));
        }
        if !t.min_sharpness.is_finite() || t.min_sharpness < 0.0 {
            return Err(ConfigError::new(
                "PHOTO_CHECK_MIN_SHARPNESS",
                "must be a number of at least 0",
            ));
        }

        let storage = match (get("STORAGE_BUCKET"), get("STORAGE_DIR")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "STORAGE_DIR",
                    "set STORAGE_BUCKET (S3) or STORAGE_DIR (one machine), not both",
                ))
            }
            (Some(bucket), None) => StorageConfig::S3 {
                bucket,
                region: database
                    .aws_region
                    .clone()
                    .unwrap_or_else(|| "us-east-1".to_owned()),
                endpoint: get("AWS_ENDPOINT_URL_S3"),
                credentials: match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
                    (Some(access_key_id), Some(secret)) => Some(AwsKeys {
                        access_key_id,
                        secret_access_key: Secret::new(secret),
                        session_token: get("AWS_SESSION_TOKEN").map(Secret::new),
                    }),
                    _ => None,
                },
            },
            (None, Some(dir)) => StorageConfig::Local {
                dir: dir.into(),
                public_url: match get("STORAGE_PUBLIC_URL") {
                    Some(v) => Some(parse_url(Some(v), "STORAGE_PUBLIC_URL", "")?),
                    None => public_url.clone(),
                },
                signing_key: get("STORAGE_SIGNING_KEY").map(Secret::new),
            },
            (None, None) => StorageConfig::None,
        };

        let currency = get("PAYMENT_CURRENCY")
            .unwrap_or_else(|| "XTR".to_owned())
            .to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::new(
                "PAYMENT_CURRENCY",
                "must be a 3-letter currency code such as XTR or RUB",
            ));
        }
        let provider_token = get("PAYMENT_PROVIDER_TOKEN").map(Secret::new);
        if currency != "XTR" && provider_token.is_none() {
            return Err(ConfigError::new(
                "PAYMENT_CURRENCY",
                "a currency other than XTR (Telegram Stars) needs PAYMENT_PROVIDER_TOKEN",
            ));
        }
        let packs = parse_packs(
            get("TOKEN_PACKS")
                .as_deref()
                .unwrap_or("small:100:150,medium:300:400,large:1000:1200"),
            &currency,
        )?;
        let product = ProductConfig {
            training_cost: positive(get("TRAINING_COST_TOKENS"), "TRAINING_COST_TOKENS", 100)?,
            retraining_cost: positive(get("RETRAINING_COST_TOKENS"), "RETRAINING_COST_TOKENS", 80)?,
            generation_cost: positive(get("GENERATION_COST_TOKENS"), "GENERATION_COST_TOKENS", 5)?,
            referral_bonus: parse_or(get("REFERRAL_BONUS_TOKENS"), "REFERRAL_BONUS_TOKENS", 30i64)?
                .max(0),
            packs,
            currency,
            provider_token,
            block_list: get("PROMPT_BLOCK_LIST")
                .map(|list| {
                    list.split(',')
                        .map(|entry| entry.trim().to_owned())
                        .collect()
                })
                .unwrap_or_default(),
            free_redos: parse_or(
                get("FREE_REDOS_PER_GENERATION"),
                "FREE_REDOS_PER_GENERATION",
                1i64,
            )?,
        };
        if !(0..=10).contains(&product.free_redos) {
            return Err(ConfigError::new(
                "FREE_REDOS_PER_GENERATION",
                "must be 0 (none) to 10 free redos per generation",
            ));
        }

        let init_data_max_age_seconds = parse_or(
            get("INIT_DATA_MAX_AGE_SECONDS"),
            "INIT_DATA_MAX_AGE_SECONDS",
            DEFAULT_INIT_DATA_MAX_AGE_SECONDS,
        )?;
        if init_data_max_age_seconds <= 0 {
            return Err(ConfigError::new(
                "INIT_DATA_MAX_AGE_SECONDS",
                "must be a positive number of seconds",
            ));
        }

        let costs = CostConfig {
            training_hardware: get("REPLICATE_TRAINING_HARDWARE")
                .unwrap_or_else(|| "gpu-h100".to_owned()),
            hardware_prices: parse_rates(
                get("REPLICATE_HARDWARE_PRICES")
                    .as_deref()
                    .unwrap_or(DEFAULT_HARDWARE_PRICES),
                "REPLICATE_HARDWARE_PRICES",
            )?,
            usd_rates: parse_rates(
                get("REVENUE_USD_RATES")
                    .as_deref()
                    .unwrap_or(DEFAULT_USD_RATES),
                "REVENUE_USD_RATES",
            )?,
        };
        for hardware in [&costs.training_hardware, &training.hardware] {
            if costs.price_per_second(hardware).is_none() {
                return Err(ConfigError::new(
                    "REPLICATE_HARDWARE_PRICES",
                    format!("has no price for {hardware}, which our jobs run on"),
                ));
            }
        }
        if !costs.usd_rates.iter().any(|(c, _)| *c == product.currency) {
            // Not fatal: the payments still work; the admins' margins leave them out until a rate
            // is set.
            tracing::warn!(
                currency = %product.currency,
                "REVENUE_USD_RATES has no rate for the payment currency: margins leave its payments out"
            );
        }

        Ok(Self {
            database,
            telegram,
            replicate,
            public_url,
            admin_ids,
            support_contact,
            mini_app_url,
            admin_chat_id,
            training_queue_url,
            cors_origins,
            training,
            photo_fetch,
            photo_check,
            storage,
            product,
            costs,
            job_stale_seconds: get("JOB_STALE_SECONDS")
                .map(|v| parse_or(Some(v), "JOB_STALE_SECONDS", 0i64))
                .transpose()?,
            init_data_max_age_seconds,
        })
    }

    /// How long a job may go without news before the sweep asks Replicate: short without a public URL
    /// (polling is the only way results arrive), 15 minutes with one (webhooks are the norm).
    pub fn job_stale_seconds(&self) -> i64 {
        self.job_stale_seconds
            .unwrap_or(if self.public_url.is_some() {
                15 * 60
            } else {
                20
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

fn seconds(value: Option<String>, var: &'static str, default: u64) -> Result<u64, ConfigError> {
    let n = parse_or(value, var, default)?;
    if n == 0 {
        return Err(ConfigError::new(
            var,
            "must be a positive number of seconds",
        ));
    }
    Ok(n)
}

fn positive(value: Option<String>, var: &'static str, default: i64) -> Result<i64, ConfigError> {
    let n = parse_or(value, var, default)?;
    if n <= 0 {
        return Err(ConfigError::new(var, "must be a positive number of tokens"));
    }
    Ok(n)
}

fn parse_packs(list: &str, currency: &str) -> Result<Vec<TokenPack>, ConfigError> {
    let bad = || {
        ConfigError::new(
            "TOKEN_PACKS",
            "must be id:tokens:price items, comma-separated, e.g. small:100:150",
        )
    };
    let mut packs: Vec<TokenPack> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let mut parts = item.split(':');
        let (Some(id), Some(tokens), Some(price), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let tokens: i64 = tokens.parse().map_err(|_| bad())?;
        let price: i64 = price.parse().map_err(|_| bad())?;
        let id_ok = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok || tokens <= 0 || price <= 0 || packs.iter().any(|p| p.id == id) {
            return Err(bad());
        }
        packs.push(TokenPack {
            id: id.to_owned(),
            tokens,
            price,
            currency: currency.to_owned(),
        });
    }
    if packs.is_empty() {
        return Err(bad());
    }
    Ok(packs)
}

/// `name:number` items, comma-separated, each number finite and not negative.
fn parse_rates(list: &str, var: &'static str) -> Result<Vec<(String, f64)>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, number) = item
                .rsplit_once(':')
                .ok_or_else(|| ConfigError::new(var, "items must be name:number"))?;
            let number: f64 = number
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| ConfigError::new(var, "each number must be 0 or more"))?;
            Ok((name.trim().to_owned(), number))
        })
        .collect()
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
    fn the_photo_check_is_on_by_default_and_its_thresholds_are_settings() {
        let c = config(&[]).unwrap();
        assert!(c.photo_check.enabled);
        assert_eq!(c.photo_check.thresholds, photo_check::Thresholds::default());
        let c = config(&[
            ("PHOTO_CHECK", "false"),
            ("PHOTO_CHECK_MIN_SIDE", "768"),
            ("PHOTO_CHECK_MIN_SHARPNESS", "8.5"),
            ("PHOTO_CHECK_MAX_HASH_DISTANCE", "6"),
            ("PHOTO_CHECK_MIN_FACE_SHARE", "0.2"),
        ])
        .unwrap();
        assert!(!c.photo_check.enabled);
        let t = c.photo_check.thresholds;
        assert_eq!(
            (
                t.min_side,
                t.min_sharpness,
                t.max_hash_distance,
                t.min_face_share
            ),
            (768, 8.5, 6, 0.2)
        );
        for (var, bad) in [
            ("PHOTO_CHECK", "maybe"),
            ("PHOTO_CHECK_MIN_SIDE", "big"),
            ("PHOTO_CHECK_MAX_HASH_DISTANCE", "65"),
            ("PHOTO_CHECK_MIN_FACE_SHARE", "1.5"),
            ("PHOTO_CHECK_MIN_SHARPNESS", "-1"),
        ] {
            assert_eq!(config(&[(var, bad)]).unwrap_err().var, var);
        }
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
    fn a_short_webhook_secret_stops_start_up() {
        let short = "a".repeat(MIN_WEBHOOK_SECRET_LEN - 1);
        let error = config(&[("TELEGRAM_WEBHOOK_SECRET", &short)]).unwrap_err();
        assert_eq!(error.var, "TELEGRAM_WEBHOOK_SECRET");
        assert!(error.to_string().contains("32-256"), "{error}");
        let long = "a".repeat(MIN_WEBHOOK_SECRET_LEN);
        assert!(config(&[("TELEGRAM_WEBHOOK_SECRET", &long)]).is_ok());
    }

    #[test]
    fn job_costs_need_a_price_for_our_hardware_and_a_rate_for_our_currency() {
        let c = config(&[]).unwrap();
        assert_eq!(c.costs.training_hardware, "gpu-h100");
        assert_eq!(c.costs.price_per_second("gpu-h100"), Some(0.001525));
        assert_eq!(
            c.costs.price_per_second(&c.training.hardware),
            Some(0.000975)
        );
        assert_eq!(c.costs.usd_rates, vec![("XTR".to_owned(), 0.013)]);
        let c = config(&[
            ("REPLICATE_MODEL_HARDWARE", "gpu-a40-large"),
            (
                "REPLICATE_HARDWARE_PRICES",
                "gpu-h100:0.0015, gpu-a40-large:0.000725",
            ),
        ])
        .unwrap();
        assert_eq!(c.costs.price_per_second("gpu-a40-large"), Some(0.000725));
        let unpriced = config(&[("REPLICATE_MODEL_HARDWARE", "gpu-a40-large")]).unwrap_err();
        assert_eq!(unpriced.var, "REPLICATE_HARDWARE_PRICES");
        assert!(unpriced.to_string().contains("gpu-a40-large"), "{unpriced}");
        for bad in ["gpu-h100", "gpu-h100:-1", "gpu-h100:x", "gpu-h100:inf"] {
            let error = config(&[("REPLICATE_HARDWARE_PRICES", bad)]).unwrap_err();
            assert_eq!(error.var, "REPLICATE_HARDWARE_PRICES", "{bad}");
        }
        // A payment currency without a rate still starts (its payments are left out of margins).
        let no_rate = config(&[("REVENUE_USD_RATES", "RUB:0.0001")]).unwrap();
        assert_eq!(no_rate.costs.usd_rates, vec![("RUB".to_owned(), 0.0001)]);
        assert!(config(&[("REVENUE_USD_RATES", "XTR")]).is_err());
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

    #[test]
    fn init_data_max_age_defaults_to_an_hour_and_must_be_positive() {
        assert_eq!(config(&[]).unwrap().init_data_max_age_seconds, 3_600);
        assert_eq!(
            config(&[("INIT_DATA_MAX_AGE_SECONDS", "86400")])
                .unwrap()
                .init_data_max_age_seconds,
            86_400
        );
        for bad in ["0", "-5", "a day"] {
            assert_eq!(
                config(&[("INIT_DATA_MAX_AGE_SECONDS", bad)])
                    .unwrap_err()
                    .var,
                "INIT_DATA_MAX_AGE_SECONDS"
            );
        }
    }

    #[test]
    fn variables_lists_every_variable_the_code_reads() {
        let source = include_str!("config.rs");
        let code = source.split("#[cfg(test)]").next().unwrap();
        let mut read: Vec<&str> = code
            .match_indices("get(\"")
            .map(|(at, _)| {
                let rest = &code[at + 5..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        read.sort_unstable();
        read.dedup();
        let mut listed = VARIABLES.to_vec();
        listed.sort_unstable();
        assert_eq!(read, listed);
    }
}
