//! The API's answers as a client (the Mini App) reads them, for the tests of every crate that
//! calls the API.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `POST /api/uploads`: a slot per photo announced.
#[derive(Debug, Deserialize)]
pub struct UploadSlots {
    pub uploads: Vec<UploadSlot>,
}

/// Where one photo goes: `method` its bytes to `url` with exactly `headers`.
#[derive(Debug, Clone, Deserialize)]
pub struct UploadSlot {
    pub id: String,
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
}
