//! The REST API's integration tests: one binary, one PostgreSQL cluster for all of them.

mod app;
mod auth;
mod docs;
mod errors;
mod fuzz;
mod idempotency;
mod openapi;
mod photo_check;
mod promos_feedback_admins;
mod refunds;
mod routes;
mod uploads;
mod views;
