use super::reports::Labels;
use super::{
    GenerationStatusLabels, ModelStatusLabels, PhotoProblemLabels, PromoRefusals, Templates, Texts,
};

pub(super) static TEXTS: Texts = Texts {
    help_title: "<b>Что я умею</b>",
    unknown_command: "Не знаю такой команды. Список команд — /help.",
    blocked: "Ваш аккаунт заблокирован. Если это ошибка, напишите в поддержку.",
    no_support_contact: "владельцам бота (поддержка ещё не настроена)",
    button_new_model: "🆕 Начать новую модель",
    support_link: "в поддержку",
    cancelled: "Хорошо, отменено. Что дальше? /help",
    outdated_button: "Эта кнопка устарела.",
    try_later: "Сейчас это недоступно. Попробуйте позже.",

    menu_train: "📸 Обучить модель",
    menu_models: "🖼 Мои модели",
    menu_balance: "💰 Баланс",
    menu_buy: "🛒 Купить токены",
    menu_referral: "🎁 Пригласить друга",
    menu_help: "❓ Помощь",

    models_empty: "У вас пока нет моделей. Обучите первую: /train",
    models_header: "<b>Ваши модели</b>",
    system_model_label: "для всех",
    history_empty: "Генераций пока не было.",
    history_header: "<b>Последние генерации</b>",

    erase_explain: "<b>Удалить мои данные</b>\n\n\
        Будут удалены — у нас и у нашего ИИ-провайдера (Replicate):\n\
        • ваши фото для обучения и ваши модели (идущее обучение будет остановлено);\n\
        • ваши генерации, их фото и ваши оценки;\n\
        • ваше имя, username и язык.\n\n\
        Платежи и история токенов сохраняются — только с вашим id, этого требует учёт; \
        баланс токенов остаётся вашим. Потом можно пользоваться ботом заново.\n\n\
        Это нельзя отменить.",
    button_erase_confirm: "🗑 Да, удалить мои данные",
    button_erase_cancel: "Отмена",
    erase_kept: "Хорошо, ничего не удалено.",

    language_choose: "🌐 Выберите язык / Choose your language:",
    language_set: "✅ Готово: теперь я говорю с вами по-русски.",
    button_mini_app: "📱 Открыть приложение",
    mini_app_offer: "Всё это есть и в приложении: модели, фото и покупки в одном окне.",

    train_ask_name: "📸 Как назовём вашу модель? Отправьте название (до 64 символов).",
    train_bad_name: "Название должно быть от 1 до 64 символов. Попробуйте ещё раз.",
    photo_not_image: "Этот файл не похож на фото. Пришлите изображение JPEG, PNG, WebP или HEIC.",
    photo_too_large: "Файл больше 20 МБ — Telegram не даст нам его скачать. Пришлите фото поменьше.",
    already_started: "Эта модель уже обучается или обучена.",
    photos_replace_header: "⚠️ Замените эти фото (они не засчитаны):",

    model_not_ready: "Эта модель ещё не готова к генерации.",
    again_already_made: "Эти фото уже готовятся (повторно ничего не списано). Чтобы получить ещё, нажмите «Ещё такие же» под новыми фото.",
    prompt_refused: "🚫 Такие картинки мы не создаём, поэтому токены не списаны. Опишите другую сцену.",
    choose_tag: "🎨 Выберите категорию стилей:",
    button_all_styles: "Все стили",
    button_no_style: "Без стиля",
    button_prev: "◀️ Назад",
    button_next: "Дальше ▶️",
    rate_thanks: "Спасибо за оценку! Хотите добавить комментарий? Просто напишите его (или /cancel).",
    comment_thanks: "Спасибо, мы прочитаем! 🙏",
    free_redo_used: "Бесплатная переделка этих фото уже использована: она в работе или уже пришла выше.",
    style_gone: "Этот стиль больше не предлагается. Выберите другой в /models.",

    buy_header: "🛒 Выберите пакет токенов:",
    button_buy: "🛒 Купить токены",
    checkout_unknown_pack: "Этот пакет больше не продаётся. Откройте /buy ещё раз.",
    promo_usage: "Отправьте промокод так: /promo КОД",

    owners_only: "Это может только владелец (ADMIN_IDS).",
    admin_users_usage: "Использование: /admin_users <id или @username>",
    admin_user_not_found: "Пользователь не найден.",
    admin_system_usage: "Использование: /admin_system ID_модели [off] — сделать готовую модель доступной всем (или убрать)",
    admin_style_usage: "Использование: /admin_styles add Название | описание | шаблон с {prompt} \
        [| tags=a,b | preview=URL | lora=URL | weight=0.8 | trigger=СЛОВО | gender=female]\n\
        Теги: /admin_styles tags ID a,b",
    admin_style_exists: "Стиль с таким названием уже есть.",
    admin_promo_usage: "Создать: /admin_promo add КОД tokens=100 (или discount=20) [max=50] [from=2026-12-01] [until=2026-12-31]\n\
        Изменить: /admin_promo edit КОД [max=N|max=none] [until=ГГГГ-ММ-ДД|until=none]\n\
        Выключить/включить: /admin_promo off КОД, /admin_promo on КОД",
    admin_refund_usage: "Использование: /admin_refund ID_платежа — вернуть оплату в Stars (ID платежа есть в /admin_payments и в уведомлении об оплате); купленные токены списываются",
    admin_refund_not_found: "Платежа с таким ID нет.",
    admin_refund_already: "Эта оплата уже возвращена.",
    admin_refund_in_progress: "Возврат этой оплаты уже выполняется.",
    button_block: "🔒 Заблокировать",
    button_unblock: "🔓 Разблокировать",

    templates: Templates {
        draft_found: "У вас есть незаконченная модель «{name}», фото: {photos}. Продолжить её или начать новую (эта будет удалена)?",
        button_resume_draft: "▶️ Продолжить «{name}»",
        pay_support: "💬 <b>Поддержка по оплате</b>\n\n\
            Проблема с оплатой или токенами? Напишите {contact}, указав дату и сумму платежа; \
            мы ответим в течение суток.\n\n\
            Если обучение или генерация не удались, токены возвращаются сами: см. /balance.",
        terms: "📄 <b>Условия сервиса</b>\n\n\
            • Токены покупаются за Telegram Stars и тратятся на обучение ({training} {training:токен|токена|токенов}) \
            и фото ({image} {image:токен|токена|токенов} за изображение).\n\
            • Неудавшиеся обучение или генерация возвращаются токенами автоматически.\n\
            • Ваши фото обучают только вашу модель. Они удаляются после обучения; \
            /delete_me удаляет всё остальное.\n\
            • Присылайте только свои фото или фото человека, который согласен.\n\
            • Stars за неизрасходованные токены: напишите {contact}.",
        blocked_contact: "Ваш аккаунт заблокирован. Если это ошибка, напишите {contact}.",
        welcome: "Привет, {first_name}! 👋\n\n\
            Я — <b>Dream Photo</b>. Пришлите мне 10–20 своих селфи, и я обучу вашу личную модель, \
            а затем буду создавать ваши фотографии в любых образах и стилях.\n\n\
            Начните с /train или откройте меню ниже.",
        balance: "💰 Баланс: <b>{left}</b> {left:токен|токена|токенов}\nПотрачено всего: {spent}\n\nПополнить: /buy",
        model_line: "• {name} — {status} ({photos} фото)",
        button_generate_with: "✨ Фото с «{name}»",
        button_share: "🌍 Разрешить предлагать «{name}» всем",
        button_unshare: "🔒 Больше не предлагать «{name}» всем",
        button_retrain: "🔁 Дообучить «{name}» на новых фото",
        retrain_started: "🔁 Переобучение «{name}» за {cost} {cost:токен|токена|токенов}. Из прежних фото перенесено: {photos}; пришлите ещё (или лучше). «{name}» работает, пока новая версия не будет готова и не заменит её.",
        history_line: "• {date}: {prompt} — {status}, {images} шт.",

        referral: "🎁 <b>Пригласите друзей</b>\n\nВаша ссылка: {link}\n\n\
            Когда друг впервые купит токены, вы получите {bonus} {bonus:токен|токена|токенов}.\n\
            Присоединилось: {joined}, оплатили: {paid}, заработано: {earned} {earned:токен|токена|токенов}.",

        erase_done: "✅ Ваши данные удалены. Платежи и история токенов сохранены только с вашим id; \
            баланс: <b>{balance}</b> {balance:токен|токена|токенов}. Начать заново: /start",

        train_ask_photos: "Отлично, модель «{name}». Теперь пришлите от {min} до {max} своих фото: \
            лицо хорошо видно, разные ракурсы и освещение, без других людей в кадре. Можно альбомом.",
        photos_missing: "📥 Получено фото: <b>{count}</b> из {min}–{max}. Пришлите ещё {missing} фото.",
        photos_enough: "📥 Получено фото: <b>{count}</b> (максимум {max}). Можно начинать обучение — стоимость {cost} {cost:токен|токена|токенов}.",
        photos_full: "Это уже {max} фото — максимум. Лишние фото не добавлены.",
        button_start_training: "🚀 Начать обучение ({cost} {cost:токен|токена|токенов})",
        photo_to_replace: "• фото {number}: {reason}",
        photos_replace_more: "…и ещё {more} фото раньше",
        problem_too_small: "слишком маленькое: меньше {min} пикселей по короткой стороне",
        too_few_photos: "Пока только {count} фото, а нужно минимум {min}. Пришлите ещё.",
        not_enough_tokens: "Недостаточно токенов: нужно {required}, у вас {available}. Пополните баланс: /buy",

        pick_style: "🎨 Стили{tag}: страница {page} из {pages}. Выберите стиль:",
        quote: "«{text}»",
        ask_prompt: "✍️ Опишите, какое фото хотите (до {max} символов), или выберите готовый вариант. \
            Пишите лучше по-английски.",
        bad_prompt: "Описание должно быть от 1 до {max} символов.",
        choose_count: "Сколько фото создать? Одно фото — {price} {price:токен|токена|токенов}.",
        button_count: "{images} шт. — {cost} т.",

        button_pack: "{tokens} {tokens:токен|токена|токенов} — {price}",
        discount_note: "Ваша скидка {percent}% уже учтена в ценах.",
        promo_tokens: "🎉 Промокод принят: +{tokens} {tokens:токен|токена|токенов}. Баланс: {balance}.",
        promo_discount: "🎉 Промокод принят: скидка {percent}% на следующую покупку. Выберите пакет: /buy",
        promo_too_many_attempts: "Слишком много попыток ввести промокод. Попробуйте через {minutes} {minutes:минуту|минуты|минут}.",

        admin_done: "✅ Готово: {what}",
        tokens_delta: "{delta} {delta:токен|токена|токенов}",
        button_style_enable: "▶️ Включить «{name}»",
        button_style_disable: "⏸ Выключить «{name}»",
        user_joined: "С нами с {date}",
        funnel_days: "{days} {days:день|дня|дней}",
        gives_tokens: "{tokens} {tokens:токен|токена|токенов}",
        gives_discount: "скидка {percent}%",
        chart_caption: "📈 За {days} {days:день|дня|дней}: {users} {users:новый пользователь|новых пользователя|новых пользователей}, \
            {generations} {generations:генерация|генерации|генераций}, выручка {revenue}.",
        admin_refund_done: "↩️ Оплата #{payment_id} возвращена: списано {tokens} {tokens:токен|токена|токенов}, баланс пользователя — {balance}. Пользователь уведомлён.",
        admin_refund_pending: "⏳ Оплата #{payment_id}: списано {tokens} {tokens:токен|токена|токенов}; Telegram ещё не подтвердил возврат, запрос будет повторяться, пока не подтвердит.",
        admin_refund_refused: "⚠️ Telegram отказал в возврате оплаты #{payment_id}: {error}. Токены возвращены пользователю, оплата остаётся в силе.",
        admin_refund_spent: "⚠️ Не возвращено: оплата дала {tokens} {tokens:токен|токена|токенов}, а у пользователя осталось только {balance} (остальные потрачены). Ничего не изменилось.",
        admin_refund_not_stars: "⚠️ Не возвращено: оплата была в {currency}; вернуть здесь можно только оплату в Telegram Stars.",
    },
    photo_problems: PhotoProblemLabels {
        unreadable: "не удалось открыть файл",
        no_face: "лицо не найдено: оно должно быть хорошо видно, взгляд в камеру",
        several_faces: "больше одного лица: в кадре должны быть только вы",
        face_too_small: "лицо слишком мелкое: подойдите ближе или обрежьте фото",
        blurred: "размыто: лицо нечёткое",
        duplicate: "почти такое же, как другое ваше фото",
    },
    model_statuses: ModelStatusLabels {
        draft: "📝 черновик",
        queued: "⏳ в очереди",
        training: "🔄 обучается",
        ready: "✅ готова",
        failed: "❌ ошибка",
        canceled: "🚫 отменена",
    },
    generation_statuses: GenerationStatusLabels {
        in_progress: "в работе",
        succeeded: "готово",
        failed: "ошибка",
        canceled: "отменено",
    },
    promo_refusals: PromoRefusals {
        unknown: "Такого промокода нет.",
        expired: "Срок действия промокода истёк.",
        exhausted: "Промокод уже использован максимальное число раз.",
        already_used: "Вы уже использовали этот промокод.",
    },
    reports: Labels {
        statistics: "Статистика",
        users: "Пользователи",
        today: "сегодня",
        last_7_days: "за 7 дней",
        paying: "Платящие",
        revenue: "Выручка",
        tokens_sold: "Токенов продано",
        spent: "потрачено",
        models: "Модели",
        generations_today: "Генераций сегодня",
        economics: "Выручка против затрат на Replicate (USD)",
        all_time: "за всё время",
        cost: "затраты",
        margin: "маржа",
        jobs: "задача|задачи|задач",

        funnel: "Воронка",
        funnel_steps: "(старт → модель → фото → оплата)",
        ratings_by_style: "Оценки по стилям",
        ratings: "оценка|оценки|оценок",
        no_style: "без стиля",
        low_ratings: "Низкие оценки",

        language: "Язык",
        balance: "Баланс",
        blocked: "Заблокирован",
        yes: "да",
        no: "нет",
        payments: "Платежи",
        tokens: "токен|токена|токенов",

        recent_models: "Последние модели",
        failed_models: "Неудачные",

        recent_payments: "Последние платежи",
        total: "Итого",
        payment_count: "платёж|платежа|платежей",

        styles: "Стили",
        on: "вкл.",
        off: "выкл.",
        add_style: "Добавить: /admin_styles add Название | описание | шаблон с {prompt}",

        admins: "Администраторы",
        owner: "владелец",
        added_by: "добавил",
        change_admins: "/admin_add id — добавить, /admin_remove id — убрать",

        audit_log: "Журнал действий",

        promo_codes: "Промокоды",
        used: "использован",
        until: "до",

        chart_title: "Dream Photo: последние 30 дней",
        chart_new_users: "Новые пользователи",
        chart_generations: "Генерации",
        chart_revenue: "Выручка",
    },
};
