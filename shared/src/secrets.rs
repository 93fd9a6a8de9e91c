//! Secrets read from AWS Secrets Manager at cold start, so none is a plaintext Lambda environment
//! variable: the environment holds only their names (`TELEGRAM_BOT_TOKEN_ARN=<secret ARN>`), and each
//! function's role may read only the secrets that function uses.
//!
//! One signed `GetSecretValue` call per secret (SigV4 with the function's role, as for the RDS IAM
//! token), not the AWS SDK for Secrets Manager (which would add megabytes to every binary) nor the
//! Parameters and Secrets extension (which answers only during invocations, not while a cold start
//! builds its state). On one machine nothing names a secret and nothing is fetched.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::{json, Value};

/// The settings that are secrets: each may be given as itself (one machine, tests) or as
/// `<NAME>_ARN`, the ARN or name of a Secrets Manager secret whose `SecretString` is the value.
pub const SECRET_SETTINGS: [&str; 5] = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "REPLICATE_API_TOKEN",
    "REPLICATE_WEBHOOK_SECRET",
    "PAYMENT_PROVIDER_TOKEN",
];

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("set {0} or {0}_ARN, not both")]
    Both(&'static str),
    #[error("{0}_ARN is set but no AWS region is (AWS_REGION)")]
    NoRegion(&'static str),
    #[error("no AWS credentials to read {name}_ARN: {error}")]
    Credentials { name: &'static str, error: String },
    #[error("reading the secret of {name}_ARN failed: {error}")]
    Fetch { name: &'static str, error: String },
}

/// Where and as whom secrets are read.
pub struct SecretsManager {
    http: reqwest::Client,
    endpoint: String,
    region: String,
}

impl SecretsManager {
    /// Secrets Manager of `region`, or the endpoint the environment names
    /// (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, as the AWS SDKs read it; a local fake in tests).
    pub fn new(http: reqwest::Client, region: String, endpoint: Option<String>) -> Self {
        let endpoint =
            endpoint.unwrap_or_else(|| format!("https://secretsmanager.{region}.amazonaws.com"));
        Self {
            http,
            endpoint,
            region,
        }
    }

    /// The `SecretString` of secret `id`, signed with `identity`.
    pub async fn get(&self, id: &str, identity: &Identity) -> Result<String, String> {
        let body = json!({ "SecretId": id }).to_string();
        let url = format!("{}/", self.endpoint.trim_end_matches('/'));
        let host = url::Url::parse(&url)
            .map_err(|e| e.to_string())?
            .host_str()
            .unwrap_or_default()
            .to_owned();
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name("secretsmanager")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?;
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params.into())
            .map_err(|e| e.to_string())?
            .into_parts();
        let mut request = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(5))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "secretsmanager.GetSecretValue")
            .body(body);
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            // AWS's error names the problem (`ResourceNotFoundException`, `AccessDeniedException`),
            // never the value.
            let kind = answer["__type"].as_str().unwrap_or("unknown error");
            return Err(format!("Secrets Manager answered {status}: {kind}"));
        }
        answer["SecretString"]
            .as_str()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| "the secret has no SecretString".to_owned())
    }
}

/// Where [`resolve_as`] takes the AWS credentials it signs with.
pub enum CredentialsSource {
    /// The SDK's default chain (the function role's keys in the Lambda environment).
    DefaultChain,
    /// These keys (tests, which leave the process environment alone).
    Given(aws_credential_types::Credentials),
}

/// The values of the secret settings that `lookup` names by `<NAME>_ARN`, read with the
/// default AWS credentials. Empty (and no AWS call) when none is named.
pub async fn resolve(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, String>, SecretsError> {
    resolve_as(lookup, CredentialsSource::DefaultChain).await
}

/// [`resolve`], signing with the credentials of `source`.
pub async fn resolve_as(
    lookup: &dyn Fn(&str) -> Option<String>,
    source: CredentialsSource,
) -> Result<HashMap<String, String>, SecretsError> {
    let named: Vec<(&'static str, String)> = SECRET_SETTINGS
        .iter()
        .filter_map(|name| {
            lookup(&format!("{name}_ARN"))
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|id| (*name, id))
        })
        .collect();
    let Some((first, _)) = named.first() else {
        return Ok(HashMap::new());
    };
    for (name, _) in &named {
        if lookup(name).is_some_and(|v| !v.trim().is_empty()) {
            return Err(SecretsError::Both(name));
        }
    }
    let region = lookup("AWS_REGION")
        .or_else(|| lookup("AWS_DEFAULT_REGION"))
        .ok_or(SecretsError::NoRegion(first))?;
    let credentials = match source {
        CredentialsSource::DefaultChain => default_credentials(&region, first).await?,
        CredentialsSource::Given(credentials) => credentials,
    };
    let identity: Identity = credentials.into();
    // Its own client, made only when a secret is named (a cold start without any pays nothing).
    let http = crate::http_client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| SecretsError::Fetch {
            name: first,
            error: e.to_string(),
        })?;
    let manager = SecretsManager::new(
        http,
        region,
        lookup("AWS_ENDPOINT_URL_SECRETS_MANAGER").or_else(|| lookup("AWS_ENDPOINT_URL")),
    );
    fetch_all(&manager, &named, &identity).await
}

/// The default chain's credentials; an error names `setting`, the first secret to be read.
async fn default_credentials(
    region: &str,
    setting: &'static str,
) -> Result<aws_credential_types::Credentials, SecretsError> {
    let config = crate::aws::sdk_config(Some(region)).await;
    let provider = config
        .credentials_provider()
        .expect("the default chain always has a credentials provider");
    provider
        .provide_credentials()
        .await
        .map_err(|e| SecretsError::Credentials {
            name: setting,
            error: e.to_string(),
        })
}

/// Reads each named secret (one call each; a cold start reads at most five).
pub async fn fetch_all(
    manager: &SecretsManager,
    named: &[(&'static str, String)],
    identity: &Identity,
) -> Result<HashMap<String, String>, SecretsError> {
    let mut values = HashMap::new();
    for (name, id) in named {
        let value = manager
            .get(id, identity)
            .await
            .map_err(|error| SecretsError::Fetch { name, error })?;
        values.insert((*name).to_owned(), value);
    }
    Ok(values)
}
