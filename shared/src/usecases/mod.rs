//! Use cases shared by the bot and the REST API, so each rule is written once: starting a model and
//! collecting its photos, paying for and queueing a training, creating a generation, buying tokens,
//! joining through a referral link, the admin's actions.

pub mod admin;
pub mod deletion;
pub mod generation;
pub mod payments;
pub mod promo;
pub mod referrals;
pub mod refunds;
pub mod sharing;
pub mod styles;
pub mod training;
pub mod users;

use crate::db::{DbError, GenericClient};
use crate::domain::rules::RuleError;
use crate::errors::Transient;
use crate::queue::QueueError;
use crate::replicate::ReplicateError;
use crate::repo::ledger::LedgerError;
use crate::repo::models::{self, Model};
use crate::services::Unavailable;

/// Why a use case did not happen. Callers turn each into words for the person (bot) or a status and
/// code (API); [`Transient::is_transient`] says whether trying again later may work.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("not enough tokens: {available} left, {required} needed")]
    InsufficientTokens { available: i64, required: i64 },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("only an owner may do this")]
    Forbidden,
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the training queue failed")]
    Queue(#[from] QueueError),
    #[error("Replicate failed")]
    Replicate(#[from] ReplicateError),
    #[error("the ledger failed")]
    Ledger(#[source] LedgerError),
    #[error("settling a failed job failed")]
    Outcome(#[from] crate::outcomes::OutcomeError),
    /// Replicate (or Telegram) refused a job for a reason of theirs; nothing was charged.
    #[error("{0}")]
    Upstream(String),
}

/// Locks `user_id`'s model `model_id` until the transaction `tx` ends; another user's model is not
/// found (so its existence is not told).
pub(crate) async fn lock_own_model(
    tx: &impl GenericClient,
    user_id: i64,
    model_id: i64,
) -> Result<Model, ServiceError> {
    models::get_for_update(tx, model_id)
        .await?
        .filter(|m| m.user_id == user_id)
        .ok_or(ServiceError::NotFound("model"))
}

impl From<LedgerError> for ServiceError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Insufficient {
                available,
                required,
            } => ServiceError::InsufficientTokens {
                available,
                required,
            },
            LedgerError::NoSuchUser(_) => ServiceError::NotFound("user"),
            LedgerError::Db(db) => ServiceError::Db(db),
            other => ServiceError::Ledger(other),
        }
    }
}

impl From<tokio_postgres::Error> for ServiceError {
    fn from(e: tokio_postgres::Error) -> Self {
        ServiceError::Db(e.into())
    }
}

impl Transient for ServiceError {
    fn is_transient(&self) -> bool {
        match self {
            ServiceError::Db(e) => e.is_transient(),
            ServiceError::Queue(e) => e.is_transient(),
            ServiceError::Replicate(e) => e.is_transient(),
            ServiceError::Ledger(e) => e.is_transient(),
            ServiceError::Outcome(e) => e.is_transient(),
            ServiceError::Unavailable(e) => e.is_transient(),
            ServiceError::Rule(_)
            | ServiceError::InsufficientTokens { .. }
            | ServiceError::NotFound(_)
            | ServiceError::Conflict(_)
            | ServiceError::Forbidden
            | ServiceError::Upstream(_) => false,
        }
    }
}
