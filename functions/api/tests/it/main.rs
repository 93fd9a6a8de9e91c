//! The REST API's integration tests: one binary, one PostgreSQL cluster for all of them.

mod app;
mod auth;
mod extras;
mod fuzz;
mod openapi;
mod routes;
mod views;
