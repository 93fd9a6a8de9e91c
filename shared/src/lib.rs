//! Dream Photo's shared crate: everything the four Lambda functions and the CLI have in common.

pub mod config;
pub mod db;
pub mod domain;
pub mod pg_cluster;
pub mod queue;
pub mod repo;
pub mod signature;
pub mod telemetry;

#[cfg(feature = "testkit")]
pub mod testkit;
