//! Keyboards the bot shows.

use shared::texts::Texts;
use teloxide_core::types::{KeyboardButton, KeyboardMarkup, ReplyMarkup};

/// The persistent main menu under the input field.
pub fn main_menu(t: &dyn Texts) -> ReplyMarkup {
    let rows = vec![
        vec![
            KeyboardButton::new(t.menu_train()),
            KeyboardButton::new(t.menu_models()),
        ],
        vec![
            KeyboardButton::new(t.menu_balance()),
            KeyboardButton::new(t.menu_buy()),
        ],
        vec![
            KeyboardButton::new(t.menu_referral()),
            KeyboardButton::new(t.menu_help()),
        ],
    ];
    ReplyMarkup::Keyboard(KeyboardMarkup::new(rows).resize_keyboard())
}
