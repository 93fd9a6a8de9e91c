//! The Telegram webhook function: Telegram posts every update here; we check the secret token,
//! handle each update once, and talk back through the Bot API.

pub mod bot;
pub mod registration;
mod webhook;

use std::sync::Arc;

use shared::services::{Services, StartupError};

pub use bot::WebhookReply;
pub use webhook::{process_polled_update, process_update, router, WebhookError};

/// Built once per cold start.
#[derive(Clone, Debug)]
pub struct State {
    pub services: Services,
}

impl State {
    pub async fn from_env() -> Result<Arc<Self>, StartupError> {
        Ok(Arc::new(Self {
            services: Services::from_env().await?,
        }))
    }

    pub fn new(services: Services) -> Arc<Self> {
        Arc::new(Self { services })
    }
}
