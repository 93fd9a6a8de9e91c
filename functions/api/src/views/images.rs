//! Image URLs as a response shows them: our objects through URLs signed for this response (they work
//! for an hour, whenever the list is fetched), anything else as it is.

use shared::storage::{ObjectKey, UrlSigner};

use crate::error::ApiResult;
use crate::State;

/// Signs the image URLs of one response.
pub struct Images(Option<UrlSigner>);

impl Images {
    /// The signer of this response; without storage, nothing is signed.
    pub async fn for_response(state: &State) -> ApiResult<Self> {
        Ok(Self(match &state.services.storage {
            Some(storage) => Some(storage.signer().await?),
            None => None,
        }))
    }

    /// A download URL of the object at `key`, if it is one of ours.
    pub fn url(&self, key: &str) -> Option<String> {
        let signer = self.0.as_ref()?;
        let key = ObjectKey::parse(key)?;
        match signer.download_url(&key) {
            Ok(url) => Some(url.into()),
            Err(e) => {
                tracing::warn!(error = %e, "an image URL could not be signed");
                None
            }
        }
    }

    /// The URLs of our copies (`keys`) when there are any, else `fallback` (Replicate's own
    /// URLs, before the copies are made).
    pub fn urls(&self, keys: &[String], fallback: Vec<String>) -> Vec<String> {
        if keys.is_empty() {
            return fallback;
        }
        let signed: Vec<String> = keys.iter().filter_map(|k| self.url(k)).collect();
        if signed.len() == keys.len() {
            signed
        } else {
            fallback
        }
    }
}
