//! The Telegram webhook's integration tests: one binary, one PostgreSQL cluster for all of them.

mod app;
mod bot;
mod catalogue_feedback;
mod people;
mod photo_check;
mod promos_admins;
mod refunds;
mod reply_in_body;
mod retraining;
mod second_try;
mod support;
mod webhook;
