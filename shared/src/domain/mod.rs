//! Domain rules: plain functions and small enums, unit-tested without a database.

pub mod callbacks;
pub mod lang;
pub mod progress;
pub mod rules;
pub mod status;
