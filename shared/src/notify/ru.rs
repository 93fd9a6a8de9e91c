use super::{AdminNoticeTexts, NoticeTexts};

pub(super) static TEXTS: NoticeTexts = NoticeTexts {
    model_ready: "🎉 Ваша модель «{name}» готова! Нажмите «Создать фото», чтобы получить первые снимки.",
    button_generate: "✨ Создать фото",
    training_failed: "😔 Не удалось обучить модель «{name}».{refund} Попробуйте ещё раз с другими фото: /train",
    generation_failed: "😔 Не удалось создать фото.{refund} Попробуйте другой запрос.",
    refund: " {refunded} токенов возвращены на баланс.",
    rate_prompt: "Как вам эти фото? Оцените от 1 до 5:",
    payment_thanks: "✅ Оплата получена: +{tokens} токенов. Баланс: {balance}.",
    payment_disputed: "Мы получили вашу оплату #{payment_id}, но она не совпадает с предложением, за которое была выставлена. Ничего не потеряно: мы разберёмся и свяжемся с вами.",
    referral_joined: "🎉 {name} присоединился(ась) по вашей ссылке! Бонус придёт после первой покупки.",
    referral_bonus: "🎁 Ваш друг сделал первую покупку — вам начислено {tokens} токенов!",
    start_training_first: "Чтобы обучить модель по фото, начните с /train.",
    invoice_title: "{tokens} токенов Dream Photo",
    invoice_description: "{tokens} токенов для обучения моделей и создания фото в Dream Photo.",
    admin: AdminNoticeTexts {
        new_user: "👋 Новый пользователь: {user} (id {id}){referred}",
        referred: ", по реферальной ссылке",
        payment: "💰 Оплата: {user} купил(а) {tokens} токенов за {paid}",
        unknown_pack_credited: "⚠️ Оплата #{payment_id}: {user} заплатил(а) {paid} за пакет «{pack}», которого больше нет в продаже; начислено {tokens} токенов, как в счёте",
        unknown_pack_not_credited: "⚠️ Оплата #{payment_id}: {user} заплатил(а) {paid} за пакет «{pack}», которого больше нет в продаже; ничего не начислено, разберитесь вручную (/admin_users)",
        payment_disputed: "⚠️ Оплата #{payment_id} от {user} ({paid}) не совпадает со счётом: {reason}. Ничего не начислено; разберитесь вручную (/admin_users)",
        training_failed: "⚠️ Обучение модели #{model_id} ({user}) не удалось: {error}",
        generation_failed: "⚠️ Генерация #{generation_id} ({user}) не удалась: {error}",
        replicate_refused_us: "🚨 Replicate не принимает наш API-токен ({error}). Обучения ждут в очереди, возвратов нет: обновите токен или пополните баланс.",
        effect_failed: "⚠️ Действие #{effect_id} ({what}) не выполнено: {error}",
    },
};
