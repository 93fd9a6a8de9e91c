//! The training worker's integration tests: one binary, one PostgreSQL cluster for all of them.

mod attempts;
mod deliveries;
mod metrics;
mod sqs_retry;
mod worker;
