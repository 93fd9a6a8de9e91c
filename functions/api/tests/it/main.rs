//! The REST API's integration tests: one binary, one PostgreSQL cluster for all of them.

mod app;
mod auth;
mod costs;
mod docs;
mod errors;
mod fuzz;
mod idempotency;
mod moderation;
mod openapi;
mod photo_check;
mod promos_feedback_admins;
mod refunds;
mod retraining;
mod routes;
mod second_try;
mod uploads;
mod views;
