//! `shared`'s integration tests: one binary, one PostgreSQL cluster for all of them.

mod architecture;
mod errors;
mod observability;
mod repositories;
mod secrets;
mod sqs;
