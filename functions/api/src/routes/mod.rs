//! The API's routes, a module per resource.

pub mod admin;
pub mod catalog;
pub mod extras;
pub mod generations;
pub mod me;
pub mod meta;
pub mod models;
pub mod payments;
