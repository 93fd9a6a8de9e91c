//! The AWS SDK's configuration (the default credential chain, the region), sending through the same
//! HTTP stack as every other client of ours (reqwest over rustls on `ring`, HTTP/1.1): the binaries
//! carry one TLS stack, one HTTP client and no HTTP/2.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;

/// The HTTP client of every AWS SDK client of ours.
pub fn http_client() -> SharedHttpClient {
    let client = crate::http_client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .build()
        .map(|client| SharedHttpConnector::new(Connector { client }));
    http_client_fn(move |_settings, _components| match &client {
        Ok(connector) => connector.clone(),
        Err(e) => SharedHttpConnector::new(Unbuildable(e.to_string())),
    })
}

/// The SDK configuration from the environment (`AWS_REGION` unless `region` is given).
pub async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// Sends the SDK's requests (small, in-memory bodies: SQS, STS) with reqwest.
#[derive(Debug, Clone)]
struct Connector {
    client: reqwest::Client,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::user(e.into()))?;
            let (parts, body) = request.into_parts();
            let Some(bytes) = body.bytes().map(bytes::Bytes::copy_from_slice) else {
                return Err(ConnectorError::user(
                    "a streaming request body cannot be sent by this client".into(),
                ));
            };
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(bytes)
                .send()
                .await
                .map_err(connector_error)?;
            let mut built = http::Response::builder().status(response.status());
            if let Some(headers) = built.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await.map_err(connector_error)?;
            let response = built
                .body(SdkBody::from(body))
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts and failed connections are the SDK's to retry; anything else is not.
fn connector_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::timeout(e.into())
    } else if e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}

/// What every call answers when the HTTP client could not be built (no TLS roots).
#[derive(Debug)]
struct Unbuildable(String);

impl HttpConnector for Unbuildable {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let error = format!("the AWS HTTP client could not be built: {}", self.0);
        HttpConnectorFuture::ready(Err(ConnectorError::other(error.into(), None)))
    }
}
