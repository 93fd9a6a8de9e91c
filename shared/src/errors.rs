//! Whether trying again can help: the one classification of our failures as transient (the same
//! call may succeed later: a dropped connection, a 5xx, a rate limit, a serialization conflict) or
//! permanent (it will fail the same way every time). A delivery handled once gives its claim back
//! only on a transient failure, the API answers 503 for one, an effect is retried for one; every
//! caller asks [`Transient::is_transient`] and nothing else.
//!
//! The base errors are classified here; an error that wraps them asks the wrapped one.

use teloxide_core::RequestError;

use crate::db::DbError;
use crate::fetch::FetchError;
use crate::queue::QueueError;
use crate::replicate::ReplicateError;
use crate::repo::ledger::LedgerError;
use crate::services::Unavailable;
use crate::storage::StorageError;
use crate::telegram::TelegramError;

/// An error that knows whether a retry can help.
pub trait Transient: std::error::Error + 'static {
    fn is_transient(&self) -> bool;
}

/// SQLSTATE classes of a server that cannot serve us now: connection exceptions (08), transaction
/// rollbacks such as serialization failures and deadlocks (40), insufficient resources (53) and
/// operator intervention such as a shutdown (57).
const TRANSIENT_SQLSTATE_CLASSES: [&str; 4] = ["08", "40", "53", "57"];
/// `lock_not_available`: a `lock_timeout` ran out while another transaction held the row.
const LOCK_NOT_AVAILABLE: &str = "55P03";

impl Transient for DbError {
    fn is_transient(&self) -> bool {
        match self {
            // No connection in time, or it could not be opened.
            DbError::Pool(_) => true,
            DbError::Query(e) => match e.code().map(|c| c.code()) {
                // No SQLSTATE: the connection broke, closed or timed out under us; or our own
                // statement and its rows disagree (no row for `query_one`, a column that does not
                // convert), which fails the same way every time.
                None => connection_trouble(e),
                Some(code) => {
                    code == LOCK_NOT_AVAILABLE
                        || TRANSIENT_SQLSTATE_CLASSES
                            .iter()
                            .any(|class| code.starts_with(class))
                }
            },
            DbError::NotConfigured | DbError::Migrate(_) | DbError::Config(_) => false,
        }
    }
}

/// A client-side query error that is about the connection, not the statement.
fn connection_trouble(e: &tokio_postgres::Error) -> bool {
    use std::error::Error as _;
    e.is_closed()
        || e.source().is_some_and(|s| s.is::<std::io::Error>())
        || e.to_string().contains("timeout")
}

impl Transient for StorageError {
    fn is_transient(&self) -> bool {
        use object_store::Error as E;
        match self {
            // The bucket did not answer, or answered 5xx or 403 (a policy being deployed): the
            // same call may succeed later.
            StorageError::Backend(e) => !matches!(
                e,
                E::NotFound { .. }
                    | E::AlreadyExists { .. }
                    | E::Precondition { .. }
                    | E::NotSupported { .. }
                    | E::NotImplemented { .. }
                    | E::InvalidPath { .. }
            ),
            StorageError::NotFound(_)
            | StorageError::BadSignature
            | StorageError::Config(_)
            | StorageError::Signing(_) => false,
        }
    }
}

impl Transient for LedgerError {
    fn is_transient(&self) -> bool {
        match self {
            LedgerError::Db(e) => e.is_transient(),
            LedgerError::Raced { .. } => true,
            LedgerError::Insufficient { .. }
            | LedgerError::NoSuchUser(_)
            | LedgerError::AlreadyApplied { .. }
            | LedgerError::ZeroDelta => false,
        }
    }
}

/// Telegram's own 5xx answers come as `{"ok": false, "description": ...}` JSON, which teloxide
/// reads as an unknown API error: these say the fault is Telegram's, for now.
fn is_telegram_server_error(description: &str) -> bool {
    const SERVER_ERRORS: [&str; 4] = [
        "Internal Server Error",
        "Bad Gateway",
        "Service Unavailable",
        "Gateway Timeout",
    ];
    SERVER_ERRORS.iter().any(|e| description.contains(e))
}

impl Transient for TelegramError {
    /// Network trouble, Telegram's 5xx or rate limits.
    fn is_transient(&self) -> bool {
        match self {
            TelegramError::Blocked => false,
            TelegramError::RateLimited(_) => true,
            // A non-JSON answer is what a proxy in front of the Bot API gives during an outage.
            TelegramError::Request(RequestError::Api(teloxide_core::ApiError::Unknown(
                description,
            ))) => is_telegram_server_error(description),
            TelegramError::Request(e) => matches!(
                e,
                RequestError::Network(_) | RequestError::Io(_) | RequestError::InvalidJson { .. }
            ),
        }
    }
}

impl Transient for crate::telegram::DownloadError {
    /// getFile or the download failed for now; a file Telegram no longer has, or that is not an
    /// image, fails the same way again.
    fn is_transient(&self) -> bool {
        use crate::telegram::DownloadError as D;
        match self {
            D::Telegram(e) => e.is_transient(),
            D::BadPath => false,
            D::Fetch(e) => e.is_transient(),
        }
    }
}

impl Transient for ReplicateError {
    /// 429, 5xx and network failures; any other answer (a 4xx, an unreadable body) is permanent.
    fn is_transient(&self) -> bool {
        match self {
            ReplicateError::Network(_) => true,
            ReplicateError::Status { status, .. } => *status == 429 || *status >= 500,
            ReplicateError::Decode(_) => false,
        }
    }
}

impl Transient for FetchError {
    /// The source failed for now (a 5xx or 429, a timeout, a broken connection). Everything else
    /// is about the photo or its address and will fail the same way again.
    fn is_transient(&self) -> bool {
        match self {
            FetchError::Status(status) => *status >= 500 || *status == 429,
            FetchError::Timeout | FetchError::Broken(_) => true,
            FetchError::Refused(_)
            | FetchError::Unreachable(_)
            | FetchError::TooLarge
            | FetchError::NotAnImage => false,
        }
    }
}

impl Transient for QueueError {
    /// SQS may take the job later, and a closed in-process queue is open again once `serve` is
    /// restarted; one that is not configured stays so until an operator sets it.
    fn is_transient(&self) -> bool {
        match self {
            QueueError::Sqs(_) | QueueError::Closed => true,
            QueueError::NotConfigured => false,
        }
    }
}

impl Transient for Unavailable {
    /// A part that is not configured stays so until an operator sets it.
    fn is_transient(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_server_errors_are_known_by_their_description() {
        assert!(is_telegram_server_error("Bad Gateway"));
        assert!(!is_telegram_server_error("Bad Request: chat not found"));
    }

    #[test]
    fn a_missing_setting_is_permanent() {
        let missing = Unavailable {
            what: "Replicate",
            var: "REPLICATE_API_TOKEN",
        };
        assert!(!missing.is_transient());
        assert!(!DbError::NotConfigured.is_transient());
    }
}
