//! CloudFormation custom resources of the stack, run during `sam deploy`:
//!
//! - `Custom::Migrations`: applies the embedded migrations (`shared::db`) as the schema owner, on
//!   every create and on every update (the resource's `CodeVersion` property is this function's
//!   published version, which changes whenever the binary, and so the embedded migrations, change).
//!   Delete leaves the database alone.
//! - `Custom::TelegramWebhook`: registers `<ApiUrl>/telegram/webhook` with the secret token and the
//!   command menus (what `dream-photo set-webhook` does); delete removes the webhook.
//! - `Custom::ReplicateWebhookSecret`: reads the account's webhook signing secret from Replicate
//!   (`GET /v1/webhooks/default/secret` with the API token) and returns it as the `Key` attribute,
//!   `NoEcho`, for the stack to keep in its secret: nobody copies it by hand. Delete does nothing.
//!
//! Every request is answered, success or failure, by a PUT of the JSON response to the pre-signed
//! `ResponseURL`: a failure carries the error as its `Reason`, so CloudFormation shows it and rolls
//! back. Configuration and secrets are read per request, so that a bad setting is reported too
//! instead of crashing the cold start (which would leave CloudFormation waiting for an hour).

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use shared::config::Config;
use shared::db::{Db, DbError};
use shared::telegram::Telegram;
use telegram_webhook::registration;

/// What CloudFormation sends (the fields we use).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub resource_type: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// The resource types this function serves.
pub const MIGRATIONS: &str = "Custom::Migrations";
pub const TELEGRAM_WEBHOOK: &str = "Custom::TelegramWebhook";
pub const REPLICATE_WEBHOOK_SECRET: &str = "Custom::ReplicateWebhookSecret";

/// What happened, for the response.
#[derive(Debug)]
struct Outcome {
    physical_id: String,
    data: Value,
    /// The data is a secret: CloudFormation masks it (`NoEcho`) wherever it would show it.
    no_echo: bool,
}

/// How long the migrations wait for the database to accept a connection. A proxy that CloudFormation
/// has just created may refuse connections for a few minutes while its target registers; the hook's
/// timeout (300 s) leaves room to report after this.
pub const CONNECT_WAIT: Duration = Duration::from_secs(240);
const CONNECT_RETRY_EVERY: Duration = Duration::from_secs(10);

/// Handles one request and reports it to CloudFormation. `Err` only when even the report could not
/// be delivered (Lambda then logs it; CloudFormation times the resource out).
pub async fn handle(
    event: Value,
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    http: &reqwest::Client,
) -> Result<(), String> {
    handle_with(event, lookup, http, CONNECT_WAIT).await
}

/// [`handle`], waiting at most `connect_wait` for the database.
pub async fn handle_with(
    event: Value,
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    http: &reqwest::Client,
    connect_wait: Duration,
) -> Result<(), String> {
    let request: Request = serde_json::from_value(event)
        .map_err(|e| format!("not a CloudFormation custom resource request: {e}"))?;
    let result = run(&request, lookup, http, connect_wait).await;
    let body = match result {
        Ok(outcome) => {
            tracing::info!(resource = %request.logical_resource_id, kind = ?request.request_type, "done");
            json!({
                "Status": "SUCCESS",
                "Reason": "done",
                "PhysicalResourceId": outcome.physical_id,
                "StackId": request.stack_id,
                "RequestId": request.request_id,
                "LogicalResourceId": request.logical_resource_id,
                "Data": outcome.data,
                "NoEcho": outcome.no_echo,
            })
        }
        Err(error) => {
            tracing::error!(resource = %request.logical_resource_id, %error, "failed");
            json!({
                "Status": "FAILED",
                "Reason": error,
                "PhysicalResourceId": physical_id(&request),
                "StackId": request.stack_id,
                "RequestId": request.request_id,
                "LogicalResourceId": request.logical_resource_id,
            })
        }
    };
    respond(http, &request.response_url, &body).await
}

/// The id CloudFormation knows the resource by: kept across updates (a new id would make
/// CloudFormation delete the "old" resource, which for the webhook means removing it).
fn physical_id(request: &Request) -> String {
    request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| format!("dream-photo-{}", request.logical_resource_id))
}

async fn run(
    request: &Request,
    lookup: &(dyn Fn(&str) -> Option<String> + Sync),
    http: &reqwest::Client,
    connect_wait: Duration,
) -> Result<Outcome, String> {
    let physical_id = physical_id(request);
    match (request.resource_type.as_str(), request.request_type) {
        // The schema stays: dropping people's data is never part of a deploy or a rollback.
        (MIGRATIONS | REPLICATE_WEBHOOK_SECRET, RequestType::Delete) => Ok(Outcome {
            physical_id,
            data: json!({}),
            no_echo: false,
        }),
        (REPLICATE_WEBHOOK_SECRET, _) => {
            let config = config(lookup).await?;
            let key = replicate_signing_secret(&config, http).await?;
            Ok(Outcome {
                physical_id,
                data: json!({ "Key": key }),
                no_echo: true,
            })
        }
        (MIGRATIONS, _) => {
            let config = config(lookup).await?;
            let db = Db::connect_lazy(&config.database).map_err(chain)?;
            let applied = migrate(&db, connect_wait).await?;
            tracing::info!(applied, "migrations applied");
            Ok(Outcome {
                physical_id,
                data: json!({ "Applied": applied }),
                no_echo: false,
            })
        }
        (TELEGRAM_WEBHOOK, kind) => {
            let config = config(lookup).await;
            if kind == RequestType::Delete {
                // Tear-down and rollback must not get stuck on the bot: a webhook that cannot be
                // removed (a token already revoked) is logged, and the delete goes on.
                if let Err(error) = unregister(config, http).await {
                    tracing::warn!(%error, "the webhook was not removed");
                }
                return Ok(Outcome {
                    physical_id,
                    data: json!({}),
                    no_echo: false,
                });
            }
            let config = config?;
            let base = request.resource_properties["ApiUrl"]
                .as_str()
                .ok_or("the resource needs an ApiUrl property")?;
            let url = registration::webhook_url(base)?;
            let telegram = bot(&config, http)?;
            let secret = config
                .telegram
                .webhook_secret
                .as_ref()
                .ok_or("TELEGRAM_WEBHOOK_SECRET is not set")?;
            let admin_chats = {
                let db = Db::connect_lazy(&config.database).map_err(chain)?;
                let conn = db.conn().await.map_err(chain)?;
                registration::admin_chats(&config, &**conn)
                    .await
                    .map_err(chain)?
            };
            registration::register(
                &telegram,
                url.clone(),
                secret.expose(),
                config.mini_app_url.as_ref(),
                &admin_chats,
            )
            .await
            .map_err(|e| format!("Telegram refused the webhook: {}", chain(e)))?;
            Ok(Outcome {
                physical_id,
                data: json!({ "WebhookUrl": url.as_str() }),
                no_echo: false,
            })
        }
        (other, _) => Err(format!("unknown resource type {other}")),
    }
}

/// The account's webhook signing secret (`whsec_...`), as Replicate gives it to the token's owner.
async fn replicate_signing_secret(
    config: &Config,
    http: &reqwest::Client,
) -> Result<String, String> {
    let token = config
        .replicate
        .api_token
        .as_ref()
        .ok_or("REPLICATE_API_TOKEN is not set")?;
    let url = config
        .replicate
        .api_url
        .join("webhooks/default/secret")
        .map_err(|e| e.to_string())?;
    let response = http
        .get(url)
        .bearer_auth(token.expose())
        .timeout(std::time::Duration::from_secs(20))
        .send()
        .await
        .map_err(|e| format!("Replicate did not answer: {}", chain(e)))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(format!(
            "Replicate refused the API token ({status}): check ReplicateApiToken"
        ));
    }
    if !status.is_success() {
        return Err(format!(
            "Replicate answered {status} for the webhook secret"
        ));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("Replicate's webhook secret is not JSON: {e}"))?;
    let key = body["key"]
        .as_str()
        .ok_or("Replicate's answer has no webhook secret (key)")?;
    shared::signature::WebhookSecret::parse(key)
        .map_err(|e| format!("Replicate's webhook secret {e}"))?;
    Ok(key.to_owned())
}

/// Applies the migrations, trying again while no connection can be had (and only then: a failing
/// migration fails at once), until `wait` is over.
async fn migrate(db: &Db, wait: Duration) -> Result<usize, String> {
    let deadline = Instant::now() + wait;
    loop {
        match db.migrate().await {
            Ok(applied) => return Ok(applied),
            Err(error @ DbError::Pool(_)) if Instant::now() + CONNECT_RETRY_EVERY < deadline => {
                tracing::warn!(error = %chain(error), "no database connection yet; trying again");
                tokio::time::sleep(CONNECT_RETRY_EVERY).await;
            }
            Err(error) => return Err(chain(error)),
        }
    }
}

async fn unregister(config: Result<Config, String>, http: &reqwest::Client) -> Result<(), String> {
    let telegram = bot(&config?, http)?;
    registration::unregister(&telegram).await.map_err(chain)
}

fn bot(config: &Config, http: &reqwest::Client) -> Result<Telegram, String> {
    Telegram::from_config(&config.telegram, http.clone())
        .ok_or_else(|| "TELEGRAM_BOT_TOKEN is not set".to_owned())
}

/// The configuration, with the secrets its `<NAME>_ARN` variables name read from Secrets Manager.
async fn config(lookup: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<Config, String> {
    let secrets = shared::secrets::resolve(lookup).await.map_err(chain)?;
    Config::from_lookup(|name| secrets.get(name).cloned().or_else(|| lookup(name))).map_err(chain)
}

/// An error with its causes, the way CloudFormation's console shows a reason: one line.
fn chain(error: impl std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// PUT to the pre-signed S3 URL. No content type: the URL's signature does not cover one.
async fn respond(http: &reqwest::Client, url: &str, body: &Value) -> Result<(), String> {
    let body = body.to_string();
    let response = http
        .put(url)
        .header("content-length", body.len())
        .body(body)
        .send()
        .await
        .map_err(|e| format!("the response to CloudFormation was not delivered: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "the response to CloudFormation was refused: {}",
            response.status()
        ));
    }
    Ok(())
}
