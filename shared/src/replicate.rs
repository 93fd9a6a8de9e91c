//! The Replicate HTTP API client: files, destination models, trainings, predictions.
//!
//! Errors say whether trying again can help ([`crate::errors`]): 429, 5xx and network
//! failures can; 4xx answers (validation, auth) cannot.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

use tokio::sync::OnceCell;
use url::Url;

use crate::config::{ReplicateConfig, Secret};
use crate::domain::status::ReplicateStatus;

#[derive(Debug, thiserror::Error)]
pub enum ReplicateError {
    #[error("Replicate is unreachable: {0}")]
    Network(String),
    #[error("Replicate answered {status}: {detail}")]
    Status {
        status: u16,
        detail: String,
        /// Seconds to wait before trying again, when a 429 (or 503) says (`Retry-After`).
        retry_after: Option<u64>,
    },
    #[error("Replicate's answer could not be read: {0}")]
    Decode(String),
}

impl ReplicateError {
    /// How long Replicate asked us to wait before trying again (a throttled call's `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReplicateError::Status {
                retry_after: Some(seconds),
                ..
            } => Some(Duration::from_secs(*seconds)),
            _ => None,
        }
    }

    /// Replicate refused our own credentials (token revoked, no credit): our outage, not the job's.
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            ReplicateError::Status {
                status: 401 | 403,
                ..
            }
        )
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ReplicateError::Status { status: 404, .. })
    }

    /// After a create call: whether Replicate may have taken the job although we got no answer we
    /// can trust (no answer, a 5xx, an unreadable answer). A 4xx, 429 included, says it did not.
    pub fn may_have_created(&self) -> bool {
        match self {
            ReplicateError::Network(_) | ReplicateError::Decode(_) => true,
            ReplicateError::Status { status, .. } => *status >= 500,
        }
    }
}

/// A training or a prediction, as Replicate returns it (and posts it to our webhook).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub status: ReplicateStatus,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub logs: Option<String>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Seconds the job ran on Replicate's hardware.
    #[serde(default)]
    pub predict_time: Option<f64>,
}

impl Job {
    /// The error as text (Replicate sends a string, sometimes an object).
    pub fn error_text(&self) -> Option<String> {
        match &self.error {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    }

    /// A finished training's new version (`owner/model:<id>`) and weights URL.
    pub fn training_output(&self) -> Option<(String, Option<String>)> {
        let output = self.output.as_ref()?;
        let version = output.get("version")?.as_str()?.to_owned();
        let weights = output
            .get("weights")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Some((version, weights))
    }

    /// A finished prediction's image URLs (a list, or a single URL).
    pub fn output_urls(&self) -> Vec<String> {
        match &self.output {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(url)) => vec![url.clone()],
            _ => Vec::new(),
        }
    }
}

/// A file uploaded through the files API.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadedFile {
    pub id: String,
    pub urls: FileUrls,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileUrls {
    pub get: String,
}

#[derive(Clone, Debug)]
pub struct Replicate {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    account: std::sync::Arc<OnceCell<String>>,
    timeout: Duration,
    upload_timeout: Duration,
}

/// How many pages of Replicate's job lists (newest first, 100 a page) a lookup reads at most.
pub const LOOKUP_PAGES: usize = 3;

impl Replicate {
    /// `None` when no API token is configured.
    pub fn from_config(config: &ReplicateConfig, http: reqwest::Client) -> Option<Self> {
        Some(Self {
            http,
            base: config.api_url.clone(),
            token: config.api_token.clone()?,
            account: Default::default(),
            timeout: Duration::from_secs(config.request_timeout_secs),
            upload_timeout: Duration::from_secs(config.upload_timeout_secs),
        })
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .expect("API paths are valid")
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ReplicateError> {
        let response = self.authorized(request).await?;
        let status = response.status();
        let retry_after = retry_after(&response);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ReplicateError::Network(without_url(e)))?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(ReplicateError::Status {
                status: status.as_u16(),
                detail,
                retry_after,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ReplicateError::Decode(e.to_string()))
    }

    /// Sends the request with our token; only a failure to reach Replicate is an error here.
    async fn authorized(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ReplicateError> {
        request
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| ReplicateError::Network(without_url(e)))
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .timeout(self.timeout)
    }

    /// The account's username (the owner of our destination models), once per cold start.
    pub async fn account(&self) -> Result<&str, ReplicateError> {
        self.account
            .get_or_try_init(|| async {
                let account: Value = self.send(self.request(Method::GET, "account")).await?;
                account["username"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ReplicateError::Decode("account without username".into()))
            })
            .await
            .map(String::as_str)
    }

    /// Uploads a file (e.g. the zip of training photos) and returns its URL for use as an input.
    pub async fn upload_file(
        &self,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<UploadedFile, ReplicateError> {
        let part = Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(content_type)
            .map_err(|e| ReplicateError::Decode(e.to_string()))?;
        let form = Form::new()
            .part("content", part)
            .text("filename", filename.to_owned())
            .text("type", content_type.to_owned());
        self.send(
            self.request(Method::POST, "files")
                .multipart(form)
                .timeout(self.upload_timeout),
        )
        .await
    }

    /// Deletes an uploaded file (user data deletion).
    pub async fn delete_file(&self, file_id: &str) -> Result<(), ReplicateError> {
        self.send_empty(self.request(Method::DELETE, &format!("files/{file_id}")))
            .await
    }

    async fn send_empty(&self, request: reqwest::RequestBuilder) -> Result<(), ReplicateError> {
        let response = self.authorized(request).await?;
        let status = response.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(ReplicateError::Status {
            status: status.as_u16(),
            retry_after: retry_after(&response),
            detail: response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        })
    }

    /// Creates `owner/name` as a private model unless it exists.
    pub async fn ensure_model(
        &self,
        owner: &str,
        name: &str,
        hardware: &str,
    ) -> Result<(), ReplicateError> {
        match self
            .send::<Value>(self.request(Method::GET, &format!("models/{owner}/{name}")))
            .await
        {
            Ok(_) => Ok(()),
            Err(ReplicateError::Status { status: 404, .. }) => {
                let body = json!({"owner": owner, "name": name, "visibility": "private", "hardware": hardware,
                                  "description": "Dream Photo personal LoRAs"});
                match self
                    .send::<Value>(self.request(Method::POST, "models").json(&body))
                    .await
                {
                    // Created meanwhile by a concurrent worker: fine.
                    Ok(_) | Err(ReplicateError::Status { status: 409, .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The latest version id of a public model (e.g. the trainer).
    pub async fn latest_version(&self, model: &str) -> Result<String, ReplicateError> {
        let model: Value = self
            .send(self.request(Method::GET, &format!("models/{model}")))
            .await?;
        model["latest_version"]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ReplicateError::Decode("model without latest_version".into()))
    }

    /// Starts a training of `trainer` (`owner/name`) at `version` into `destination`.
    pub async fn create_training(
        &self,
        trainer: &str,
        version: &str,
        destination: &str,
        input: Value,
        webhook: Option<&str>,
    ) -> Result<Job, ReplicateError> {
        let body = with_webhook(json!({"destination": destination, "input": input}), webhook);
        self.send(
            self.request(
                Method::POST,
                &format!("models/{trainer}/versions/{version}/trainings"),
            )
            .json(&body),
        )
        .await
    }

    /// Starts a prediction on a version (`owner/model:<id>`).
    pub async fn create_prediction(
        &self,
        version: &str,
        input: Value,
        webhook: Option<&str>,
    ) -> Result<Job, ReplicateError> {
        let body = with_webhook(json!({"version": version, "input": input}), webhook);
        self.send(self.request(Method::POST, "predictions").json(&body))
            .await
    }

    pub async fn get_training(&self, id: &str) -> Result<Job, ReplicateError> {
        self.send(self.request(Method::GET, &format!("trainings/{id}")))
            .await
    }

    pub async fn get_prediction(&self, id: &str) -> Result<Job, ReplicateError> {
        self.send(self.request(Method::GET, &format!("predictions/{id}")))
            .await
    }

    pub async fn cancel_training(&self, id: &str) -> Result<(), ReplicateError> {
        self.send_empty(self.request(Method::POST, &format!("trainings/{id}/cancel")))
            .await
    }

    pub async fn cancel_prediction(&self, id: &str) -> Result<(), ReplicateError> {
        self.send_empty(self.request(Method::POST, &format!("predictions/{id}/cancel")))
            .await
    }

    /// Finds one of our trainings by what we tagged it with: the webhook URL's `attempt` parameter, or
    /// a value unique to the attempt in its input (the uploaded zip's URL). Reads the newest
    /// [`LOOKUP_PAGES`] pages; `None` if it is not among them.
    pub async fn find_training(
        &self,
        tag: &str,
        input_ref: Option<&str>,
    ) -> Result<Option<Job>, ReplicateError> {
        self.find_job("trainings", tag, input_ref).await
    }

    /// Finds one of our predictions by its attempt tag (webhook URL) or its input's unique value
    /// (the seed we chose), like [`Replicate::find_training`].
    pub async fn find_prediction(
        &self,
        tag: &str,
        input_ref: Option<&str>,
    ) -> Result<Option<Job>, ReplicateError> {
        self.find_job("predictions", tag, input_ref).await
    }

    async fn find_job(
        &self,
        list: &str,
        tag: &str,
        input_ref: Option<&str>,
    ) -> Result<Option<Job>, ReplicateError> {
        let mut request = self.request(Method::GET, list);
        for _ in 0..LOOKUP_PAGES {
            let page: Value = self.send(request).await?;
            let found = page["results"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|item| is_tagged(item, tag, input_ref));
            if let Some(item) = found {
                return serde_json::from_value(item.clone())
                    .map(Some)
                    .map_err(|e| ReplicateError::Decode(e.to_string()));
            }
            // Only pages of the same API are followed (the cursor comes back as a full URL).
            match page["next"].as_str().and_then(|u| Url::parse(u).ok()) {
                Some(next) if next.as_str().starts_with(self.base.as_str()) => {
                    request = self.http.get(next).timeout(self.timeout);
                }
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Deletes a model version (user data deletion: the trained weights go with it).
    pub async fn delete_version(&self, version: &str) -> Result<(), ReplicateError> {
        let Some((model, id)) = version.split_once(':') else {
            return Ok(());
        };
        self.send_empty(self.request(Method::DELETE, &format!("models/{model}/versions/{id}")))
            .await
    }
}

/// A `Retry-After` header in seconds (the HTTP-date form is not used by Replicate).
fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A job's body asking Replicate to report its start, its logs (the progress its owner is shown;
/// Replicate sends them at most every 500 ms) and its completion to `webhook`, if any.
fn with_webhook(mut body: Value, webhook: Option<&str>) -> Value {
    if let Some(url) = webhook {
        body["webhook"] = json!(url);
        body["webhook_events_filter"] = json!(["start", "logs", "completed"]);
    }
    body
}

/// Whether a listed job carries our attempt: its webhook URL's `attempt` parameter is `tag`, or a
/// value of its input is `input_ref`.
fn is_tagged(item: &Value, tag: &str, input_ref: Option<&str>) -> bool {
    let by_webhook = item["webhook"]
        .as_str()
        .and_then(|w| Url::parse(w).ok())
        .is_some_and(|w| w.query_pairs().any(|(k, v)| k == "attempt" && v == tag));
    let by_input = input_ref.is_some_and(|wanted| {
        item["input"].as_object().is_some_and(|input| {
            input.values().any(|v| match v {
                Value::String(s) => s == wanted,
                Value::Number(n) => n.to_string() == wanted,
                _ => false,
            })
        })
    });
    by_webhook || by_input
}

/// reqwest errors can carry the URL (with our paths); keep only the kind of failure.
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// The Replicate file id of a photo we uploaded through the files API
/// (`<REPLICATE_API_URL>/files/<id>/...`); `None` for any other URL.
pub fn file_id(api_url: &url::Url, url: &str) -> Option<String> {
    let files = api_url.join("files/").ok()?;
    let rest = url.strip_prefix(files.as_str())?;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_owned())
}
