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

    fn button_generate(&self) -> String {
        "✨ Создать фото".to_owned()
    }
    fn model_ready(&self, name: &str) -> String {
        format!(
            "🎉 Ваша модель «{name}» готова! Нажмите «Создать фото», чтобы получить первые снимки."
        )
    }
    fn training_failed(&self, name: &str, refunded: i64) -> String {
        let refund = if refunded > 0 {
            format!(" {refunded} токенов возвращены на баланс.")
        } else {
            String::new()
        };
        format!("😔 Не удалось обучить модель «{name}».{refund} Попробуйте ещё раз с другими фото: /train")
    }
    fn generation_caption(&self, prompt: &str) -> String {
        format!("✨ {prompt}")
    }
    fn generation_failed(&self, refunded: i64) -> String {
        let refund = if refunded > 0 {
            format!(" {refunded} токенов возвращены на баланс.")
        } else {
            String::new()
        };
        format!("😔 Не удалось создать фото.{refund} Попробуйте другой запрос.")
    }
    fn admin_training_failed(&self, user: &str, model_id: i64, error: &str) -> String {
        format!("⚠️ Обучение модели #{model_id} ({user}) не удалось: {error}")
    }
    fn admin_generation_failed(&self, user: &str, generation_id: i64, error: &str) -> String {
        format!("⚠️ Генерация #{generation_id} ({user}) не удалась: {error}")
    }
    fn admin_payment(&self, user: &str, tokens: i64, amount: i64, currency: &str) -> String {
        format!(
            "💰 Оплата: {user} купил(а) {tokens} токенов за {}",
            super::money(amount, currency)
        )
    }
}
