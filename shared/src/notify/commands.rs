//! The bot's commands, in one list: each with its name (as typed after `/`), and whether it is in
//! the menu (`/help` and Telegram's command menu, in the list's order, with what it does in each
//! language), hidden, or for admins (their own command menu, scoped to their chat). It lives in
//! `shared` so an admin's menu can be set from any function (the effect log's `refresh_commands`);
//! the bot parses and answers the commands.

use teloxide_core::types::BotCommand;

use crate::domain::lang::Lang;

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
    /// For owners and the admins they add; "unknown command" to anyone else. Listed in their menu.
    Admin(Described),
    /// For owners only (ADMIN_IDS); listed in theirs.
    Owner(Described),
}

use Kind::{Admin, Hidden, Menu, Owner};

/// Whose command menu: a user's, an admin's (the users' commands and the admins'), an owner's (all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuRole {
    User,
    Admin,
    Owner,
}

macro_rules! commands {
    (
        menu { $($(#[$menu_attr:meta])* $menu:ident: $menu_name:literal => $described:expr,)* }
        hidden { $($(#[$hidden_attr:meta])* $hidden:ident: $hidden_name:literal,)* }
        admin { $($(#[$admin_attr:meta])* $admin:ident: $admin_name:literal => $admin_described:expr,)* }
        owner { $($(#[$owner_attr:meta])* $owner:ident: $owner_name:literal => $owner_described:expr,)* }
    ) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Command {
            $($(#[$menu_attr])* $menu,)*
            $($(#[$hidden_attr])* $hidden,)*
            $($(#[$admin_attr])* $admin,)*
            $($(#[$owner_attr])* $owner,)*
        }

        impl Command {
            /// Every command, the menu's first and in their order.
            pub const ALL: &'static [Command] = &[
                $(Command::$menu,)*
                $(Command::$hidden,)*
                $(Command::$admin,)*
                $(Command::$owner,)*
            ];

            pub fn name(self) -> &'static str {
                match self {
                    $(Command::$menu => $menu_name,)*
                    $(Command::$hidden => $hidden_name,)*
                    $(Command::$admin => $admin_name,)*
                    $(Command::$owner => $owner_name,)*
                }
            }

            fn kind(self) -> Kind {
                match self {
                    $(Command::$menu => Menu($described),)*
                    $(Command::$hidden => Hidden,)*
                    $(Command::$admin => Admin($admin_described),)*
                    $(Command::$owner => Owner($owner_described),)*
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
        Language: "language" => Described {
            ru: About {
                menu: "Язык / Language",
                help: "язык бота: русский или английский",
            },
            en: About {
                menu: "Language / Язык",
                help: "the bot's language: English or Russian",
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
    // The admins' and owners' menus, after the users' commands.
    admin {
        AdminStats: "admin_stats" => ad("Статистика и график за 30 дней", "Statistics and a 30-day chart"),
        /// `/admin_system MODEL_ID [off]`
        AdminSystem: "admin_system" => ad("Модель для всех: ID [off]", "Offer a model to everyone: ID [off]"),
        /// `/admin_users <id or @username>`
        AdminUsers: "admin_users" => ad("Пользователь: id или @username", "A user: id or @username"),
        AdminModels: "admin_models" => ad("Последние и неудачные модели", "Recent and failed models"),
        AdminPayments: "admin_payments" => ad("Последние платежи", "Recent payments"),
        /// `/admin_refund <telegram_payment_charge_id>`
        AdminRefund: "admin_refund" => ad("Вернуть платёж Stars", "Refund a Stars payment"),
        /// `/admin_styles`, `/admin_styles add ...`, `/admin_styles tags ...`
        AdminStyles: "admin_styles" => ad("Стили", "Styles"),
        /// `/admin_promo`, `/admin_promo add|edit|off|on CODE ...`
        AdminPromo: "admin_promo" => ad("Промокоды", "Promo codes"),
    }
    owner {
        Admins: "admins" => ad("Администраторы", "Admins"),
        AdminAdd: "admin_add" => ad("Добавить администратора: id", "Add an admin: id"),
        AdminRemove: "admin_remove" => ad("Убрать администратора: id", "Remove an admin: id"),
        AdminLog: "admin_log" => ad("Журнал действий", "Audit log"),
    }
}

/// An admin command's description, the same in the menu and anywhere else it is listed.
const fn ad(ru: &'static str, en: &'static str) -> Described {
    Described {
        ru: About { menu: ru, help: ru },
        en: About { menu: en, help: en },
    }
}

impl Command {
    /// The command named `name` (without the `/` and the bot's `@username`).
    pub fn parse(name: &str) -> Option<Command> {
        Command::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// For admins and owners (owners' own included).
    pub fn is_admin(self) -> bool {
        matches!(self.kind(), Admin(_) | Owner(_))
    }

    /// For owners only.
    pub fn is_owners(self) -> bool {
        matches!(self.kind(), Owner(_))
    }

    /// What it does in `lang`, for the commands in `role`'s menu.
    fn about(self, lang: Lang, role: MenuRole) -> Option<About> {
        let described = match (self.kind(), role) {
            (Menu(described), _) => described,
            (Admin(described), MenuRole::Admin | MenuRole::Owner) => described,
            (Owner(described), MenuRole::Owner) => described,
            _ => return None,
        };
        Some(match lang {
            Lang::Ru => described.ru,
            Lang::En => described.en,
        })
    }
}

/// The commands in `role`'s menu, each with what it does in `lang`.
fn listed(lang: Lang, role: MenuRole) -> impl Iterator<Item = (Command, About)> {
    Command::ALL
        .iter()
        .filter_map(move |&command| Some((command, command.about(lang, role)?)))
}

/// `/help`: `title`, then a line per command in the users' menu.
pub fn help(lang: Lang, title: &str) -> String {
    let lines: Vec<String> = listed(lang, MenuRole::User)
        .map(|(command, about)| format!("/{} — {}", command.name(), about.help))
        .collect();
    format!("{title}\n\n{}", lines.join("\n"))
}

/// Telegram's command menu (setMyCommands) in `lang`: the users' one.
pub fn menu(lang: Lang) -> Vec<BotCommand> {
    role_menu(lang, MenuRole::User)
}

/// The command menu of `role` in `lang` (an admin's: the users' commands, then the admins').
pub fn role_menu(lang: Lang, role: MenuRole) -> Vec<BotCommand> {
    listed(lang, role)
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
    fn admins_menus_hold_the_users_commands_and_their_own() {
        for lang in Lang::ALL {
            let names = |role| -> Vec<String> {
                role_menu(lang, role)
                    .into_iter()
                    .map(|c| c.command)
                    .collect()
            };
            let (user, admin, owner) = (
                names(MenuRole::User),
                names(MenuRole::Admin),
                names(MenuRole::Owner),
            );
            assert!(admin.starts_with(&user) && owner.starts_with(&admin));
            assert!(admin.contains(&"admin_stats".to_owned()));
            assert!(!admin.contains(&"admin_add".to_owned()));
            assert!(owner.contains(&"admin_add".to_owned()));
            assert!(!user.iter().any(|c| c.starts_with("admin")));
            // Telegram's limits: at most 100 commands, descriptions of 1-256 characters.
            assert!(owner.len() <= 100);
            for command in role_menu(lang, MenuRole::Owner) {
                assert!((1..=256).contains(&command.description.chars().count()));
            }
        }
    }

    #[test]
    fn the_menu_and_help_list_the_same_commands() {
        for lang in [Lang::Ru, Lang::En] {
            let help = help(lang, "Title");
            let menu = menu(lang);
            assert_eq!(menu.len(), help.lines().skip(2).count());
            for command in menu {
                assert!(help.contains(&format!("\n/{} — ", command.command)));
            }
        }
    }
}
