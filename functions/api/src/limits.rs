//! Per-user rate limits of the costly routes (generation, training, invoices), counted in Postgres so they
//! hold across Lambda instances.

use shared::repo::rate_limits::{self, Decision, Limit};

use crate::error::{ApiResult, Error};
use crate::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub generation: Limit,
    pub training: Limit,
    /// Each invoice is a Bot API call of ours: Telegram's limits are the bot's, not one user's.
    pub invoice: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            generation: Limit {
                action: "generation",
                max: 10,
                window_seconds: 60,
            },
            training: Limit {
                action: "training",
                max: 3,
                window_seconds: 3600,
            },
            invoice: Limit {
                action: "invoice",
                max: 20,
                window_seconds: 600,
            },
        }
    }
}

/// Counts the request; 429 with `Retry-After` when over the limit.
pub async fn enforce(state: &State, user_id: i64, limit: &Limit) -> ApiResult<()> {
    let decision = rate_limits::hit(&**state.conn().await?, user_id, limit).await?;
    allow(user_id, limit, decision)
}

/// What a counted request may do: 429 with `Retry-After` when it went over the limit.
pub fn allow(user_id: i64, limit: &Limit, decision: Decision) -> ApiResult<()> {
    match decision {
        Decision::Allowed { .. } => Ok(()),
        Decision::Limited { retry_after } => {
            tracing::info!(user_id, action = limit.action, retry_after, "rate limited");
            Err(Error::rate_limited(limit.action, retry_after))
        }
    }
}
