//! Domain rules: plain functions and small enums, unit-tested without a database.

/// An enum whose variants each have a name, the text it is stored as: the variants are declared
/// once, with their names, and the enum gets `ALL` (in declaration order), `as_str` and `parse`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$(Self::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }
    };
}

pub(crate) use named_enum;

pub mod callbacks;
pub mod lang;
pub mod moderation;
pub mod photos;
pub mod progress;
pub mod rules;
pub mod status;
