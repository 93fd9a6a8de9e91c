//! Dream Photo's test kit: a real PostgreSQL cluster (crate `local-cluster`) started once per test
//! binary with a fresh, migrated database per test, recording fakes of the Telegram Bot API and
//! Replicate, moto for the AWS services, fixtures, Telegram updates, and readers of what the tests
//! check (rows, calls, answers).
//!
//! ```ignore
//! let db = testkit::test_db().await;          // a new database, migrations applied
//! let telegram = testkit::FakeTelegram::start().await;
//! ```

pub mod api;
mod database;
mod env;
pub mod fixtures;
pub mod moto;
pub mod photos;
pub mod replicate;
pub mod router;
pub mod stored;
mod telegram;
pub mod updates;

/// The local PostgreSQL cluster the tests run on.
pub use local_cluster as cluster;

pub use database::{test_db, test_db_with_pool, TestDb};
pub use env::{TestEnv, ADMIN_ID, PUBLIC_URL, REPLICATE_WEBHOOK_SECRET, WEBHOOK_SECRET};
pub use replicate::FakeReplicate;
pub use telegram::{
    fake_jpeg, fake_jpeg_sized, Button, FakeTelegram, InputMedia, Invoice, PreCheckoutAnswer,
    SentCall, BOT_ID, BOT_TOKEN, BOT_USERNAME,
};
