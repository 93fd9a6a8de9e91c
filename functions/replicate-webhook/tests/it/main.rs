//! The Replicate webhook's integration tests: one binary, one PostgreSQL cluster for all of them.

mod app;
mod costs;
mod metrics;
mod retraining;
mod webhook;
