//! Dream Photo's shared crate: everything the four Lambda functions and the CLI have in common.

pub mod attempts;
pub mod auth;
pub mod aws;
pub mod config;
pub mod db;
pub mod dispatch;
pub mod domain;
pub mod effects;
pub mod errors;
pub mod fetch;
pub mod http_client;
pub mod metrics;
pub mod notify;
pub mod once;
pub mod outcomes;
pub mod queue;
pub mod replicate;
pub mod repo;
pub mod secrets;
pub mod services;
pub mod signature;
pub mod storage;
pub mod telegram;
pub mod telemetry;
pub mod transitions;
pub mod usecases;
