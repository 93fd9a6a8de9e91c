//! The API's routes, a module per resource; what they answer is in [`crate::views`].

pub mod admin;
pub mod catalog;
pub mod generations;
pub mod me;
pub mod meta;
pub mod models;
pub mod objects;
pub mod payments;
pub mod promo;
pub mod training;
pub mod uploads;
