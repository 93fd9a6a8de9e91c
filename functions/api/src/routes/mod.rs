//! The API's routes, a module per resource.

pub mod meta;
