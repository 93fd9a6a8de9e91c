use super::Texts;

pub struct Ru;

impl Texts for Ru {
    fn welcome(&self, first_name: &str) -> String {
        format!(
            "Привет, {first_name}! 👋\n\n\
             Я — <b>Dream Photo</b>. Пришлите мне 10–20 своих селфи, и я обучу вашу личную модель, \
             а затем буду создавать ваши фотографии в любых образах и стилях.\n\n\
             Начните с /train или откройте меню ниже."
        )
    }
    fn help(&self) -> String {
        "<b>Что я умею</b>\n\n\
         /train — обучить вашу модель по 10–20 фото\n\
         /models — ваши модели и генерация фото\n\
         /history — последние генерации\n\
         /balance — баланс токенов\n\
         /buy — купить токены\n\
         /referral — пригласить друзей и получить бонус\n\
         /cancel — выйти из текущего диалога\n\
         /help — эта справка"
            .to_owned()
    }
    fn unknown_command(&self) -> String {
        "Не знаю такой команды. Список команд — /help.".to_owned()
    }
    fn blocked(&self) -> String {
        "Ваш аккаунт заблокирован. Если это ошибка, напишите в поддержку.".to_owned()
    }
    fn menu_train(&self) -> String {
        "📸 Обучить модель".to_owned()
    }
    fn menu_models(&self) -> String {
        "🖼 Мои модели".to_owned()
    }
    fn menu_balance(&self) -> String {
        "💰 Баланс".to_owned()
    }
    fn menu_buy(&self) -> String {
        "🛒 Купить токены".to_owned()
    }
    fn menu_referral(&self) -> String {
        "🎁 Пригласить друга".to_owned()
    }
    fn menu_help(&self) -> String {
        "❓ Помощь".to_owned()
    }
}
