//! Our object storage: training photos and generated images, in an S3 bucket on AWS or a directory
//! on one machine, through one interface (the `object_store` crate does the talking).
//!
//! Nothing in the bucket is public. A client reads an object through a download URL signed for a
//! short while, and writes one (a photo the Mini App uploads) through an upload URL whose signature
//! binds the object's content type and exact size. On S3 these are SigV4 presigned URLs; on one
//! machine they point at the API's own `/objects/...` route, signed with HMAC, which checks them the
//! same way ([`Storage::check_local`]).
//!
//! Keys say whose an object is ([`ObjectKey`]): `uploads/<user>/…`, `photos/<user>/<model>/…`,
//! `generations/<user>/<generation>/…`, so a person's objects are deleted by prefix.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{ClientConfigKey, ClientOptions, HttpClient, HttpConnector};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use sha2::Sha256;
use url::Url;

use crate::config::StorageConfig;
use crate::domain::rules::ImageKind;

/// How long a download URL works: long enough to show a gallery, short enough that a leaked link
/// dies the same hour. Lists sign their URLs afresh on every response.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(60 * 60);
/// How long an upload URL works (to start the PUT).
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long an uploaded photo waits for a training (S3's lifecycle rule deletes `uploads/` after a
/// day too): a slow set of 20 photos is never refused for taking longer than one URL lives.
pub const UPLOAD_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("no object at {0}")]
    NotFound(String),
    #[error("object storage failed: {0}")]
    Backend(#[source] object_store::Error),
    #[error("the link is invalid or has expired")]
    BadSignature,
    #[error("object storage is misconfigured: {0}")]
    Config(String),
    #[error("signing a URL failed: {0}")]
    Signing(String),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => StorageError::NotFound(path),
            e => StorageError::Backend(e),
        }
    }
}

/// Where an object is kept. Built only by the constructors below (or [`ObjectKey::parse`]), so a
/// key always has its owner's prefix and nothing a client could use to escape it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// A photo the Mini App uploads, before a training takes it.
    pub fn upload(user_id: i64, upload_id: &str, kind: ImageKind) -> Self {
        Self(format!(
            "uploads/{user_id}/{upload_id}.{}",
            kind.extension()
        ))
    }

    /// A training photo of a model; `name` is letters, digits, `-` and `_` (a photo's id, an
    /// upload's id, a digest).
    pub fn training_photo(user_id: i64, model_id: i64, name: &str, kind: ImageKind) -> Self {
        debug_assert!(name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        Self(format!(
            "photos/{user_id}/{model_id}/{name}.{}",
            kind.extension()
        ))
    }

    /// The `index`-th image of a generation.
    pub fn generated(user_id: i64, generation_id: i64, index: usize, kind: ImageKind) -> Self {
        Self(format!(
            "generations/{user_id}/{generation_id}/{index}.{}",
            kind.extension()
        ))
    }

    /// A key as stored or as a local URL names it: one of the shapes above, nothing else.
    pub fn parse(key: &str) -> Option<Self> {
        let parts: Vec<&str> = key.split('/').collect();
        let ids = |range: std::ops::Range<usize>| {
            parts[range]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        let file_ok = |file: &str| {
            let Some((stem, ext)) = file.rsplit_once('.') else {
                return false;
            };
            !stem.is_empty()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && ImageKind::from_extension(ext).is_some()
        };
        let ok = match parts.first().copied() {
            Some("uploads") => parts.len() == 3 && ids(1..2) && file_ok(parts[2]),
            Some("photos") | Some("generations") => {
                parts.len() == 4 && ids(1..3) && file_ok(parts[3])
            }
            _ => false,
        };
        ok.then(|| Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The image type its name says.
    pub fn kind(&self) -> ImageKind {
        self.0
            .rsplit_once('.')
            .and_then(|(_, ext)| ImageKind::from_extension(ext))
            .unwrap_or(ImageKind::Jpeg)
    }

    fn path(&self) -> Path {
        Path::from(self.0.as_str())
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every prefix a person's objects live under (what erasing their account deletes).
pub fn user_prefixes(user_id: i64) -> [String; 3] {
    [
        format!("uploads/{user_id}/"),
        format!("photos/{user_id}/"),
        format!("generations/{user_id}/"),
    ]
}

/// Where a model's training photos live.
pub fn model_photos_prefix(user_id: i64, model_id: i64) -> String {
    format!("photos/{user_id}/{model_id}/")
}

/// Where a generation's images live.
pub fn generation_prefix(user_id: i64, generation_id: i64) -> String {
    format!("generations/{user_id}/{generation_id}/")
}

/// An upload URL and what the client must send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    pub url: Url,
    /// Send exactly these headers (the signature covers them).
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// What a valid local URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAccess {
    Get,
    Put { content_type: String, size: u64 },
}

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    S3 {
        s3: Arc<AmazonS3>,
        region: String,
        /// `https://<bucket>.s3.<region>.amazonaws.com`, or `<endpoint>/<bucket>` (path style).
        object_base: String,
    },
    Local {
        base: Url,
        key: Arc<[u8]>,
    },
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("store", &self.store.to_string())
            .finish()
    }
}

/// The key local URLs are signed with when none is configured: one per process, so every part of
/// `serve` (and of a test) agrees on it.
fn process_key() -> Arc<[u8]> {
    static KEY: OnceLock<Arc<[u8]>> = OnceLock::new();
    KEY.get_or_init(|| {
        let bytes: [u8; 32] = rand::random();
        Arc::from(bytes.as_slice())
    })
    .clone()
}

/// The bucket's HTTP client, built as all of ours are ([`crate::http_client`]) with what
/// `object_store` would set itself: its timeouts, HTTP/1.1, no compression (it would break the
/// objects' `Content-Length`), and plain HTTP only for an endpoint configured so (a local S3).
#[derive(Debug)]
struct S3Connector;

impl HttpConnector for S3Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let client = crate::http_client::builder()
            .user_agent(concat!("dream-photo/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .http1_only()
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate()
            .https_only(!allow_http)
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(client))
    }
}

impl Storage {
    /// The storage `config` names; `None` when it names none.
    pub fn from_config(config: &StorageConfig) -> Result<Option<Self>, StorageError> {
        match config {
            StorageConfig::None => Ok(None),
            StorageConfig::S3 {
                bucket,
                region,
                endpoint,
                credentials,
            } => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_http_connector(S3Connector)
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(keys) = credentials {
                    builder = builder
                        .with_access_key_id(&keys.access_key_id)
                        .with_secret_access_key(keys.secret_access_key.expose());
                    if let Some(token) = &keys.session_token {
                        builder = builder.with_token(token.expose());
                    }
                }
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                Ok(Some(Self::s3(
                    builder,
                    bucket,
                    region,
                    endpoint.as_deref(),
                )?))
            }
            StorageConfig::Local {
                dir,
                public_url,
                signing_key,
            } => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StorageError::Config(format!("STORAGE_DIR {}: {e}", dir.display()))
                })?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| StorageError::Config(e.to_string()))?;
                let base = public_url.clone().ok_or_else(|| {
                    StorageError::Config(
                        "STORAGE_DIR needs STORAGE_PUBLIC_URL or PUBLIC_URL (where its links point)"
                            .into(),
                    )
                })?;
                let key = match signing_key {
                    Some(k) => Arc::from(k.expose().as_bytes()),
                    None => process_key(),
                };
                Ok(Some(Self {
                    store: Arc::new(store),
                    backend: Backend::Local { base, key },
                }))
            }
        }
    }

    fn s3(
        builder: AmazonS3Builder,
        bucket: &str,
        region: &str,
        endpoint: Option<&str>,
    ) -> Result<Self, StorageError> {
        let s3 = Arc::new(
            builder
                .build()
                .map_err(|e| StorageError::Config(e.to_string()))?,
        );
        let object_base = match endpoint {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Ok(Self {
            store: s3.clone(),
            backend: Backend::S3 {
                s3,
                region: region.to_owned(),
                object_base,
            },
        })
    }

    /// Objects on this machine, served by the API's `/objects/...` route.
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    pub async fn put(
        &self,
        key: &ObjectKey,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        // A local file's type is its name's; S3 keeps the type it is told.
        let mut attributes = Attributes::new();
        if !self.is_local() {
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        }
        let options = PutOptions {
            attributes,
            ..Default::default()
        };
        self.store
            .put_opts(&key.path(), PutPayload::from_bytes(bytes.into()), options)
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &ObjectKey) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&key.path()).await?.bytes().await?)
    }

    /// The object's size, `None` when there is none.
    pub async fn size(&self, key: &ObjectKey) -> Result<Option<u64>, StorageError> {
        match self.store.head(&key.path()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The first `n` bytes of an object of `size` bytes (fewer when it is shorter); the size is the
    /// caller's, read once with [`Storage::size`].
    pub async fn first_bytes(
        &self,
        key: &ObjectKey,
        size: u64,
        n: u64,
    ) -> Result<Bytes, StorageError> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        Ok(self.store.get_range(&key.path(), 0..n.min(size)).await?)
    }

    pub async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StorageError> {
        Ok(self.store.copy(&from.path(), &to.path()).await?)
    }

    /// Deletes an object; one already gone is no error.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.store.delete(&key.path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes every object under `prefix` (a `…/` prefix of [`user_prefixes`] and the like);
    /// returns how many there were.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let prefix = Path::from(prefix.trim_end_matches('/'));
        let paths: Vec<Path> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        let count = paths.len();
        let mut deleted = self
            .store
            .delete_stream(futures::stream::iter(paths.into_iter().map(Ok)).boxed());
        while let Some(result) = deleted.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(count)
    }

    /// What signs URLs for one response (S3's credentials read once, however many URLs it signs).
    pub async fn signer(&self) -> Result<UrlSigner, StorageError> {
        Ok(match &self.backend {
            Backend::S3 {
                s3,
                region,
                object_base,
            } => {
                let credential = s3.credentials().get_credential().await?;
                UrlSigner::S3 {
                    identity: aws_credential_types::Credentials::new(
                        credential.key_id.clone(),
                        credential.secret_key.clone(),
                        credential.token.clone(),
                        None,
                        "object_store",
                    )
                    .into(),
                    region: region.clone(),
                    object_base: object_base.clone(),
                }
            }
            Backend::Local { base, key } => UrlSigner::Local {
                base: base.clone(),
                key: key.clone(),
            },
        })
    }

    /// Checks a request to a local URL (`/objects/<key>?…`): its signature, its expiry, and for an
    /// upload the content type and size it was signed for. S3 storage has no local URLs.
    pub fn check_local(
        &self,
        method: &str,
        key: &ObjectKey,
        query: &[(String, String)],
    ) -> Result<LocalAccess, StorageError> {
        let Backend::Local { key: secret, .. } = &self.backend else {
            return Err(StorageError::BadSignature);
        };
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let expires: u64 = param("expires")
            .and_then(|v| v.parse().ok())
            .ok_or(StorageError::BadSignature)?;
        if expires < unix_now() {
            return Err(StorageError::BadSignature);
        }
        let signature = param("signature").ok_or(StorageError::BadSignature)?;
        let (access, content_type, size) = match method {
            "GET" | "HEAD" => (LocalAccess::Get, String::new(), 0),
            "PUT" => {
                let content_type = param("content_type")
                    .ok_or(StorageError::BadSignature)?
                    .to_owned();
                let size: u64 = param("size")
                    .and_then(|v| v.parse().ok())
                    .ok_or(StorageError::BadSignature)?;
                (
                    LocalAccess::Put {
                        content_type: content_type.clone(),
                        size,
                    },
                    content_type,
                    size,
                )
            }
            _ => return Err(StorageError::BadSignature),
        };
        let signed_method = if method == "HEAD" { "GET" } else { method };
        let wanted = local_mac(secret, signed_method, key, expires, &content_type, size);
        let given = hex::decode(signature).map_err(|_| StorageError::BadSignature)?;
        wanted
            .verify_slice(&given)
            .map_err(|_| StorageError::BadSignature)?;
        Ok(access)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn local_url(base: &Url, key: &ObjectKey) -> Result<Url, StorageError> {
    let base = base.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/objects/{key}")).map_err(|e| StorageError::Config(e.to_string()))
}

fn local_mac(
    secret: &[u8],
    method: &str,
    key: &ObjectKey,
    expires: u64,
    content_type: &str,
    size: u64,
) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any size");
    mac.update(format!("{method}\n{key}\n{expires}\n{content_type}\n{size}").as_bytes());
    mac
}

fn local_signature(
    secret: &[u8],
    method: &str,
    key: &ObjectKey,
    expires: u64,
    content_type: &str,
    size: u64,
) -> String {
    hex::encode(
        local_mac(secret, method, key, expires, content_type, size)
            .finalize()
            .into_bytes(),
    )
}

/// Signs the URLs of one response.
pub enum UrlSigner {
    S3 {
        identity: aws_smithy_runtime_api::client::identity::Identity,
        region: String,
        object_base: String,
    },
    Local {
        base: Url,
        key: Arc<[u8]>,
    },
}

impl UrlSigner {
    /// A URL that downloads the object for [`DOWNLOAD_URL_TTL`].
    pub fn download_url(&self, key: &ObjectKey) -> Result<Url, StorageError> {
        match self {
            UrlSigner::S3 { .. } => self.presign_s3("GET", key, &[], DOWNLOAD_URL_TTL),
            UrlSigner::Local { base, key: secret } => {
                let expires = unix_now() + DOWNLOAD_URL_TTL.as_secs();
                let mut url = local_url(base, key)?;
                let signature = local_signature(secret, "GET", key, expires, "", 0);
                url.query_pairs_mut()
                    .append_pair("expires", &expires.to_string())
                    .append_pair("signature", &signature);
                Ok(url)
            }
        }
    }

    /// A URL that uploads exactly `size` bytes of `content_type` to `key`, for [`UPLOAD_URL_TTL`].
    pub fn upload_url(
        &self,
        key: &ObjectKey,
        content_type: &str,
        size: u64,
    ) -> Result<PresignedUpload, StorageError> {
        let expires_at = Utc::now()
            + chrono::Duration::from_std(UPLOAD_URL_TTL).unwrap_or(chrono::Duration::minutes(15));
        let headers = vec![
            ("content-type".to_owned(), content_type.to_owned()),
            ("content-length".to_owned(), size.to_string()),
        ];
        let url = match self {
            UrlSigner::S3 { .. } => self.presign_s3("PUT", key, &headers, UPLOAD_URL_TTL)?,
            UrlSigner::Local { base, key: secret } => {
                let expires = unix_now() + UPLOAD_URL_TTL.as_secs();
                let mut url = local_url(base, key)?;
                let signature = local_signature(secret, "PUT", key, expires, content_type, size);
                url.query_pairs_mut()
                    .append_pair("expires", &expires.to_string())
                    .append_pair("content_type", content_type)
                    .append_pair("size", &size.to_string())
                    .append_pair("signature", &signature);
                url
            }
        };
        Ok(PresignedUpload {
            url,
            headers,
            expires_at,
        })
    }

    /// A SigV4 presigned URL binding `headers` besides the host: S3 refuses a request whose
    /// headers differ from what was signed (an upload of another type or length).
    fn presign_s3(
        &self,
        method: &str,
        key: &ObjectKey,
        headers: &[(String, String)],
        ttl: Duration,
    ) -> Result<Url, StorageError> {
        use aws_sigv4::http_request::{
            sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
        };
        use aws_sigv4::sign::v4;

        let UrlSigner::S3 {
            identity,
            region,
            object_base,
        } = self
        else {
            return Err(StorageError::Signing("not an S3 signer".into()));
        };
        let signing = |e: &dyn std::fmt::Display| StorageError::Signing(e.to_string());
        let mut url = Url::parse(&format!("{object_base}/{key}")).map_err(|e| signing(&e))?;
        let mut settings = SigningSettings::default();
        settings.expires_in = Some(ttl);
        settings.signature_location = SignatureLocation::QueryParams;
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| signing(&e))?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let mut signed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        signed.push(("host", host.as_str()));
        let request = SignableRequest::new(
            method,
            url.as_str(),
            signed.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .map_err(|e| signing(&e))?;
        let (instructions, _) = sign(request, &params.into())
            .map_err(|e| signing(&e))?
            .into_parts();
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in instructions.params() {
                query.append_pair(name, value);
            }
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_their_owners_prefix_and_nothing_else_parses() {
        let key = ObjectKey::generated(7, 42, 1, ImageKind::Png);
        assert_eq!(key.as_str(), "generations/7/42/1.png");
        assert_eq!(ObjectKey::parse(key.as_str()), Some(key));
        assert!(ObjectKey::parse("uploads/7/abc-123.jpg").is_some());
        for bad in [
            "",
            "uploads/7/../8/x.jpg",
            "uploads/x/abc.jpg",
            "photos/7/abc.jpg",
            "photos/7/1/2.exe",
            "other/7/1/2.jpg",
            "uploads/7/a b.jpg",
            "/uploads/7/a.jpg",
        ] {
            assert!(ObjectKey::parse(bad).is_none(), "{bad}");
        }
    }

    fn local() -> (Storage, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("storage-unit-{}", rand::random::<u64>()));
        let storage = Storage::from_config(&StorageConfig::Local {
            dir: dir.clone(),
            public_url: Some(Url::parse("http://127.0.0.1:9/").unwrap()),
            signing_key: None,
        })
        .unwrap()
        .unwrap();
        (storage, dir)
    }

    fn query(url: &Url) -> Vec<(String, String)> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[tokio::test]
    async fn local_urls_allow_what_they_were_signed_for_only() {
        let (storage, dir) = local();
        let key = ObjectKey::upload(7, "u1", ImageKind::Jpeg);
        let signer = storage.signer().await.unwrap();
        let upload = signer.upload_url(&key, "image/jpeg", 1234).unwrap();
        assert!(upload.url.path().ends_with("/objects/uploads/7/u1.jpg"));
        let q = query(&upload.url);
        assert_eq!(
            storage.check_local("PUT", &key, &q).unwrap(),
            LocalAccess::Put {
                content_type: "image/jpeg".into(),
                size: 1234
            }
        );
        // Another key, another size, or a download with an upload's signature: refused.
        let other = ObjectKey::upload(8, "u1", ImageKind::Jpeg);
        assert!(storage.check_local("PUT", &other, &q).is_err());
        let mut bigger = q.clone();
        for (k, v) in bigger.iter_mut() {
            if k == "size" {
                *v = "99999999".into();
            }
        }
        assert!(storage.check_local("PUT", &key, &bigger).is_err());
        assert!(storage.check_local("GET", &key, &q).is_err());

        let download = signer.download_url(&key).unwrap();
        assert_eq!(
            storage.check_local("GET", &key, &query(&download)).unwrap(),
            LocalAccess::Get
        );
        let mut expired = query(&download);
        for (k, v) in expired.iter_mut() {
            if k == "expires" {
                *v = "1".into();
            }
        }
        assert!(storage.check_local("GET", &key, &expired).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn local_objects_are_written_read_copied_and_deleted_by_prefix() {
        let (storage, dir) = local();
        let a = ObjectKey::training_photo(7, 1, "1", ImageKind::Jpeg);
        let b = ObjectKey::training_photo(7, 1, "2", ImageKind::Jpeg);
        storage
            .put(&a, Bytes::from_static(b"\xff\xd8\xffabc"), "image/jpeg")
            .await
            .unwrap();
        storage.copy(&a, &b).await.unwrap();
        assert_eq!(storage.size(&b).await.unwrap(), Some(6));
        assert_eq!(
            &storage.first_bytes(&b, 6, 3).await.unwrap()[..],
            b"\xff\xd8\xff"
        );
        assert_eq!(
            storage
                .delete_prefix(&model_photos_prefix(7, 1))
                .await
                .unwrap(),
            2
        );
        assert_eq!(storage.size(&a).await.unwrap(), None);
        assert!(matches!(
            storage.get(&a).await,
            Err(StorageError::NotFound(_))
        ));
        storage.delete(&a).await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn s3_upload_urls_bind_the_content_type_and_length() {
        let builder = AmazonS3Builder::new()
            .with_access_key_id("AKIDEXAMPLE")
            .with_secret_access_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            .with_bucket_name("dream-photo-test")
            .with_region("eu-central-1");
        let storage = Storage::s3(builder, "dream-photo-test", "eu-central-1", None).unwrap();
        let signer = storage.signer().await.unwrap();
        let key = ObjectKey::upload(7, "u1", ImageKind::Png);
        let upload = signer.upload_url(&key, "image/png", 3_000_000).unwrap();
        assert_eq!(
            upload.url.host_str(),
            Some("dream-photo-test.s3.eu-central-1.amazonaws.com")
        );
        assert!(
            upload.url.path().ends_with("/uploads/7/u1.png"),
            "{}",
            upload.url
        );
        let q = query(&upload.url);
        let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        assert_eq!(
            param("X-Amz-SignedHeaders").as_deref(),
            Some("content-length;content-type;host")
        );
        assert_eq!(param("X-Amz-Expires").as_deref(), Some("900"));
        assert!(param("X-Amz-Signature").is_some_and(|s| s.len() == 64));
        assert_eq!(
            upload.headers,
            vec![
                ("content-type".to_owned(), "image/png".to_owned()),
                ("content-length".to_owned(), "3000000".to_owned()),
            ]
        );
        let download = signer.download_url(&key).unwrap();
        assert!(query(&download)
            .iter()
            .any(|(k, v)| k == "X-Amz-SignedHeaders" && v == "host"));
    }
}
