-- The language a person chose (/language in the bot, the Mini App's profile); NULL until they
-- choose, when Telegram's language_code decides.
ALTER TABLE users ADD COLUMN language TEXT CHECK (language IN ('ru', 'en'));
