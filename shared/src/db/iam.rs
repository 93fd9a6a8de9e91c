//! RDS IAM database authentication: the password is a SigV4-presigned `connect` URL, valid 15 minutes,
//! so a new one is made for every new connection (RDS Proxy checks it only when a client connects).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("no AWS credentials: {0}")]
    Credentials(String),
    #[error("signing the auth token failed: {0}")]
    Signing(String),
    #[error("DATABASE_URL needs a host and a user for IAM auth")]
    Incomplete,
}

pub struct TokenSigner {
    region: String,
    provider: OnceCell<SharedCredentialsProvider>,
}

impl TokenSigner {
    pub fn new(region: String) -> Self {
        Self {
            region,
            provider: OnceCell::new(),
        }
    }

    /// The token for the host, port and user of `pg`.
    pub async fn token_for(&self, pg: &tokio_postgres::Config) -> Result<String, IamError> {
        let host = pg
            .get_hosts()
            .iter()
            .find_map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => Some(name.clone()),
                #[allow(unreachable_patterns)]
                _ => None,
            })
            .ok_or(IamError::Incomplete)?;
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        let user = pg.get_user().ok_or(IamError::Incomplete)?;
        let provider = self
            .provider
            .get_or_init(|| async {
                let config = crate::aws::sdk_config(Some(&self.region)).await;
                config
                    .credentials_provider()
                    .expect("the default chain always has a credentials provider")
            })
            .await;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| IamError::Credentials(e.to_string()))?;
        presign(
            &host,
            port,
            user,
            &self.region,
            credentials.into(),
            SystemTime::now(),
        )
    }
}

fn presign(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    identity: Identity,
    now: SystemTime,
) -> Result<String, IamError> {
    let mut settings = SigningSettings::default();
    settings.expires_in = Some(Duration::from_secs(900));
    settings.signature_location = SignatureLocation::QueryParams;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| IamError::Signing(e.to_string()))?;
    let mut url = url::Url::parse(&format!("https://{host}:{port}/?Action=connect"))
        .map_err(|e| IamError::Signing(e.to_string()))?;
    url.query_pairs_mut().append_pair("DBUser", user);
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::empty(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| IamError::Signing(e.to_string()))?;
    let (instructions, _signature) = sign(request, &params.into())
        .map_err(|e| IamError::Signing(e.to_string()))?
        .into_parts();
    for (name, value) in instructions.params() {
        url.query_pairs_mut().append_pair(name, value);
    }
    Ok(url.as_str().trim_start_matches("https://").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    #[test]
    fn token_is_a_presigned_connect_url_without_scheme() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = presign(
            "proxy.example.com",
            5432,
            "app",
            "eu-west-1",
            creds.into(),
            now,
        )
        .unwrap();
        assert!(token.starts_with(
            "proxy.example.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        ));
        assert!(token.contains(
            "X-Amz-Credential=AKIDEXAMPLE%2F20231114%2Feu-west-1%2Frds-db%2Faws4_request"
        ));
        assert!(token.contains("X-Amz-Expires=900"));
        assert!(token.contains("X-Amz-Signature="));
        assert!(!token.contains("secret"));
    }
}
