//! The bot's commands, in one list: each with its name (as typed after `/`), and whether it is in
//! the menu (`/help` and Telegram's command menu, in the list's order, with what it does in each
//! language), hidden, or for admins.

use teloxide_core::types::BotCommand;

use super::texts::{texts, Lang};

/// What a command in the menu does, in one language: the command menu's line and /help's.
#[derive(Debug, Clone, Copy)]
struct About {
    menu: &'static str,
    help: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Described {
    ru: About,
    en: About,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Menu(Described),
    /// Understood, not listed.
    Hidden,
    /// For owners and the admins they add; "unknown command" to anyone else.
    Admin,
}

use Kind::{Admin, Hidden, Menu};

macro_rules! commands {
    (
        menu { $($(#[$menu_attr:meta])* $menu:ident: $menu_name:literal => $described:expr,)* }
        hidden { $($(#[$hidden_attr:meta])* $hidden:ident: $hidden_name:literal,)* }
        admin { $($(#[$admin_attr:meta])* $admin:ident: $admin_name:literal,)* }
    ) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Command {
            $($(#[$menu_attr])* $menu,)*
            $($(#[$hidden_attr])* $hidden,)*
            $($(#[$admin_attr])* $admin,)*
        }

        impl Command {
            /// Every command, the menu's first and in their order.
            pub const ALL: &'static [Command] = &[
                $(Command::$menu,)*
                $(Command::$hidden,)*
                $(Command::$admin,)*
            ];

            pub fn name(self) -> &'static str {
                match self {
                    $(Command::$menu => $menu_name,)*
                    $(Command::$hidden => $hidden_name,)*
                    $(Command::$admin => $admin_name,)*
                }
            }

            fn kind(self) -> Kind {
                match self {
                    $(Command::$menu => Menu($described),)*
                    $(Command::$hidden => Hidden,)*
                    $(Command::$admin => Admin,)*
                }
            }
        }
    };
}

commands! {
    // In the menu and /help, in this order.
    menu {
        Train: "train" => Described {
            ru: About {
                menu: "Обучить модель по фото",
                help: "обучить вашу модель по 10–20 фото",
            },
            en: About {
                menu: "Train a model from your photos",
                help: "train your model from 10–20 photos",
            },
        },
        Models: "models" => Described {
            ru: About {
                menu: "Мои модели и генерация",
                help: "ваши модели и генерация фото",
            },
            en: About {
                menu: "My models and generating",
                help: "your models, and generating photos",
            },
        },
        History: "history" => Described {
            ru: About {
                menu: "Последние генерации",
                help: "последние генерации",
            },
            en: About {
                menu: "Latest generations",
                help: "your latest generations",
            },
        },
        Balance: "balance" => Described {
            ru: About {
                menu: "Баланс токенов",
                help: "баланс токенов",
            },
            en: About {
                menu: "Token balance",
                help: "your token balance",
            },
        },
        Buy: "buy" => Described {
            ru: About {
                menu: "Купить токены",
                help: "купить токены",
            },
            en: About {
                menu: "Buy tokens",
                help: "buy tokens",
            },
        },
        Referral: "referral" => Described {
            ru: About {
                menu: "Пригласить друзей",
                help: "пригласить друзей и получить бонус",
            },
            en: About {
                menu: "Invite friends",
                help: "invite friends and earn a bonus",
            },
        },
        Cancel: "cancel" => Described {
            ru: About {
                menu: "Выйти из диалога",
                help: "выйти из текущего диалога",
            },
            en: About {
                menu: "Leave the current dialogue",
                help: "leave the current dialogue",
            },
        },
        DeleteMe: "delete_me" => Described {
            ru: About {
                menu: "Удалить мои данные",
                help: "удалить мои данные",
            },
            en: About {
                menu: "Delete my data",
                help: "delete my data",
            },
        },
        Help: "help" => Described {
            ru: About {
                menu: "Справка",
                help: "эта справка",
            },
            en: About {
                menu: "Help",
                help: "this help",
            },
        },
        // Telegram asks every bot that sells for Stars to answer these two.
        PaySupport: "paysupport" => Described {
            ru: About {
                menu: "Поддержка по оплате",
                help: "помощь с оплатой и токенами",
            },
            en: About {
                menu: "Payment support",
                help: "help with payments and tokens",
            },
        },
        Terms: "terms" => Described {
            ru: About {
                menu: "Условия",
                help: "условия сервиса",
            },
            en: About {
                menu: "Terms of service",
                help: "the terms of service",
            },
        },
    }
    hidden {
        /// `/start [referral code]`
        Start: "start",
        /// `/promo CODE`
        Promo: "promo",
    }
    admin {
        AdminStats: "admin_stats",
        /// `/admin_system MODEL_ID [off]`
        AdminSystem: "admin_system",
        /// `/admin_users <id or @username>`
        AdminUsers: "admin_users",
        AdminModels: "admin_models",
        AdminPayments: "admin_payments",
        /// `/admin_refund <telegram_payment_charge_id>`
        AdminRefund: "admin_refund",
        /// `/admin_styles`, `/admin_styles add ...`, `/admin_styles tags ...`
        AdminStyles: "admin_styles",
        /// `/admin_promo`, `/admin_promo add|edit|off|on CODE ...`
        AdminPromo: "admin_promo",
        /// Owners only, like the three below.
        Admins: "admins",
        AdminAdd: "admin_add",
        AdminRemove: "admin_remove",
        AdminLog: "admin_log",
    }
}

impl Command {
    /// The command named `name` (without the `/` and the bot's `@username`).
    pub fn parse(name: &str) -> Option<Command> {
        Command::ALL.iter().copied().find(|c| c.name() == name)
    }

    pub fn is_admin(self) -> bool {
        matches!(self.kind(), Admin)
    }

    /// What it does in `lang`, for the commands in the menu.
    fn about(self, lang: Lang) -> Option<About> {
        match (self.kind(), lang) {
            (Menu(described), Lang::Ru) => Some(described.ru),
            (Menu(described), Lang::En) => Some(described.en),
            (Hidden | Admin, _) => None,
        }
    }
}

/// The commands in the menu, each with what it does in `lang`.
fn listed(lang: Lang) -> impl Iterator<Item = (Command, About)> {
    Command::ALL
        .iter()
        .filter_map(move |&command| Some((command, command.about(lang)?)))
}

/// `/help`: a line per command in the menu.
pub fn help(lang: Lang) -> String {
    let lines: Vec<String> = listed(lang)
        .map(|(command, about)| format!("/{} — {}", command.name(), about.help))
        .collect();
    format!("{}\n\n{}", texts(lang).help_title, lines.join("\n"))
}

/// Telegram's command menu (setMyCommands) in `lang`.
pub fn menu(lang: Lang) -> Vec<BotCommand> {
    listed(lang)
        .map(|(command, about)| BotCommand::new(command.name(), about.menu))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_parses_from_its_name_alone() {
        for &command in Command::ALL {
            assert_eq!(Command::parse(command.name()), Some(command));
        }
        assert_eq!(Command::parse("unknown"), None);
    }

    #[test]
    fn the_menu_and_help_list_the_same_commands() {
        for lang in [Lang::Ru, Lang::En] {
            let help = help(lang);
            let menu = menu(lang);
            assert_eq!(menu.len(), help.lines().skip(2).count());
            for command in menu {
                assert!(help.contains(&format!("\n/{} — ", command.command)));
            }
        }
    }
}
