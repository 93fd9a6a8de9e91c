//! The bot's commands: the list (names, menus and what each does, per language) is
//! `shared::notify::commands`, so an admin's menu can be set from any function; here, `/help`.

pub use shared::notify::commands::{menu, role_menu, Command, MenuRole};

use super::texts::{texts, Lang};

/// `/help`: a line per command in the menu.
pub fn help(lang: Lang) -> String {
    shared::notify::commands::help(lang, texts(lang).help_title)
}
