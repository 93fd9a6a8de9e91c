//! Keyboards the bot shows.

use shared::config::TokenPack;
use shared::domain::callbacks::Callback;
use teloxide_core::types::{
    InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, KeyboardMarkup, ReplyMarkup,
    WebAppInfo,
};

use super::texts::{money, Lang, Texts};
use super::Command;

/// The persistent main menu under the input field.
pub fn main_menu(t: &Texts) -> ReplyMarkup {
    let rows = vec![
        vec![
            KeyboardButton::new(t.menu_train),
            KeyboardButton::new(t.menu_models),
        ],
        vec![
            KeyboardButton::new(t.menu_balance),
            KeyboardButton::new(t.menu_buy),
        ],
        vec![
            KeyboardButton::new(t.menu_referral),
            KeyboardButton::new(t.menu_help),
        ],
    ];
    ReplyMarkup::Keyboard(KeyboardMarkup::new(rows).resize_keyboard())
}

/// The command a main-menu button stands for.
pub fn menu_command(t: &Texts, text: &str) -> Option<Command> {
    [
        (t.menu_train, Command::Train),
        (t.menu_models, Command::Models),
        (t.menu_balance, Command::Balance),
        (t.menu_buy, Command::Buy),
        (t.menu_referral, Command::Referral),
        (t.menu_help, Command::Help),
    ]
    .into_iter()
    .find(|(label, _)| *label == text)
    .map(|(_, command)| command)
}

pub fn inline(rows: Vec<Vec<(String, Callback)>>) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(rows.into_iter().map(|row| {
        row.into_iter()
            .map(|(label, callback)| InlineKeyboardButton::callback(label, callback.encode()))
            .collect::<Vec<_>>()
    }))
}

/// A row with the button that opens the Mini App (an inline one: only those hand it the init data
/// the API checks).
pub fn mini_app_row(t: &Texts, url: &url::Url) -> Vec<InlineKeyboardButton> {
    vec![InlineKeyboardButton::web_app(
        t.button_mini_app,
        WebAppInfo { url: url.clone() },
    )]
}

/// `/language`: one button per language, each named in itself.
pub fn languages() -> InlineKeyboardMarkup {
    inline(vec![Lang::ALL
        .iter()
        .map(|&lang| {
            let label = match lang {
                Lang::Ru => "🇷🇺 Русский",
                Lang::En => "🇬🇧 English",
            };
            (label.to_owned(), Callback::Language { lang })
        })
        .collect()])
}

pub fn buy_button(t: &Texts) -> ReplyMarkup {
    ReplyMarkup::InlineKeyboard(inline(vec![vec![(
        t.button_buy.to_owned(),
        Callback::Packs,
    )]]))
}

pub fn packs(t: &Texts, packs: &[TokenPack]) -> ReplyMarkup {
    ReplyMarkup::InlineKeyboard(inline(
        packs
            .iter()
            .map(|p| {
                vec![(
                    t.button_pack(p.tokens, &money(p.price, &p.currency)),
                    Callback::Buy {
                        pack_id: p.id.clone(),
                    },
                )]
            })
            .collect(),
    ))
}
