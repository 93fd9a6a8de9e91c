//! `dream-photo`'s integration tests: one binary, one PostgreSQL cluster for the in-process flows
//! (`serve` and the operator commands run the built binary, which starts its own).

mod deploy;
mod flows;
mod mini_app;
mod operator;
mod progress;
mod serve;
