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
         /delete_me — удалить мои данные\n\
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
    fn admin_replicate_refused_us(&self, error: &str) -> String {
        format!("🚨 Replicate не принимает наш API-токен ({error}). Обучения ждут в очереди, возвратов нет: обновите токен или пополните баланс.")
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
    fn admin_payment_unknown_pack(
        &self,
        user: &str,
        payment_id: i64,
        pack: &str,
        tokens: i64,
        amount: i64,
        currency: &str,
    ) -> String {
        let paid = super::money(amount, currency);
        if tokens > 0 {
            format!("⚠️ Оплата #{payment_id}: {user} заплатил(а) {paid} за пакет «{pack}», которого больше нет в продаже; начислено {tokens} токенов, как в счёте")
        } else {
            format!("⚠️ Оплата #{payment_id}: {user} заплатил(а) {paid} за пакет «{pack}», которого больше нет в продаже; ничего не начислено, разберитесь вручную (/admin_users)")
        }
    }
    fn admin_effect_failed(&self, effect_id: i64, what: &str, error: &str) -> String {
        format!("⚠️ Действие #{effect_id} ({what}) не выполнено: {error}")
    }
    fn admin_payment_disputed(
        &self,
        user: &str,
        payment_id: i64,
        amount: i64,
        currency: &str,
        reason: &str,
    ) -> String {
        format!(
            "⚠️ Оплата #{payment_id} от {user} ({}) не совпадает со счётом: {reason}. Ничего не начислено; разберитесь вручную (/admin_users)",
            super::money(amount, currency)
        )
    }
    fn payment_disputed(&self, payment_id: i64) -> String {
        format!("Мы получили вашу оплату #{payment_id}, но она не совпадает с предложением, за которое была выставлена. Ничего не потеряно: мы разберёмся и свяжемся с вами.")
    }
    fn balance(&self, left: i64, spent: i64) -> String {
        format!("💰 Баланс: <b>{left}</b> токенов\nПотрачено всего: {spent}\n\nПополнить: /buy")
    }
    fn status_label(&self, status: crate::domain::status::ModelStatus) -> String {
        use crate::domain::status::ModelStatus::*;
        match status {
            Draft => "📝 черновик",
            Queued => "⏳ в очереди",
            Training => "🔄 обучается",
            Ready => "✅ готова",
            Failed => "❌ ошибка",
            Canceled => "🚫 отменена",
        }
        .to_owned()
    }
    fn models_empty(&self) -> String {
        "У вас пока нет моделей. Обучите первую: /train".to_owned()
    }
    fn models_header(&self) -> String {
        "<b>Ваши модели</b>".to_owned()
    }
    fn model_line(&self, name: &str, status: &str, photos: i64) -> String {
        format!("• {name} — {status} ({photos} фото)")
    }
    fn button_share(&self, name: &str, shared: bool) -> String {
        if shared {
            format!("🔒 Больше не предлагать «{name}» всем")
        } else {
            format!("🌍 Разрешить предлагать «{name}» всем")
        }
    }
    fn button_generate_with(&self, name: &str) -> String {
        format!("✨ Фото с «{name}»")
    }
    fn history_empty(&self) -> String {
        "Генераций пока не было.".to_owned()
    }
    fn history_header(&self) -> String {
        "<b>Последние генерации</b>".to_owned()
    }
    fn history_line(&self, date: &str, prompt: &str, status: &str, images: i32) -> String {
        format!("• {date}: {prompt} — {status}, {images} шт.")
    }
    fn generation_status_label(&self, status: crate::domain::status::GenerationStatus) -> String {
        use crate::domain::status::GenerationStatus::*;
        match status {
            Pending | Starting | Processing => "в работе",
            Succeeded => "готово",
            Failed => "ошибка",
            Canceled => "отменено",
        }
        .to_owned()
    }
    fn referral(&self, link: &str, joined: i64, paid: i64, earned: i64, bonus: i64) -> String {
        format!("🎁 <b>Пригласите друзей</b>\n\nВаша ссылка: {link}\n\nКогда друг впервые купит токены, вы получите {bonus} токенов.\nПрисоединилось: {joined}, оплатили: {paid}, заработано: {earned} токенов.")
    }
    fn referral_joined(&self, name: &str) -> String {
        format!("🎉 {name} присоединился(ась) по вашей ссылке! Бонус придёт после первой покупки.")
    }
    fn referral_bonus(&self, tokens: i64) -> String {
        format!("🎁 Ваш друг сделал первую покупку — вам начислено {tokens} токенов!")
    }
    fn cancelled(&self) -> String {
        "Хорошо, отменено. Что дальше? /help".to_owned()
    }
    fn erase_explain(&self) -> String {
        "<b>Удалить мои данные</b>\n\n\
         Будут удалены — у нас и у нашего ИИ-провайдера (Replicate):\n\
         • ваши фото для обучения и ваши модели (идущее обучение будет остановлено);\n\
         • ваши генерации, их фото и ваши оценки;\n\
         • ваше имя, username и язык.\n\n\
         Платежи и история токенов сохраняются — только с вашим id, этого требует учёт; \
         баланс токенов остаётся вашим. Потом можно пользоваться ботом заново.\n\n\
         Это нельзя отменить."
            .to_owned()
    }
    fn button_erase_confirm(&self) -> String {
        "🗑 Да, удалить мои данные".to_owned()
    }
    fn button_erase_cancel(&self) -> String {
        "Отмена".to_owned()
    }
    fn erase_done(&self, balance: i64) -> String {
        format!(
            "✅ Ваши данные удалены. Платежи и история токенов сохранены только с вашим id; \
             баланс: <b>{balance}</b> токенов. Начать заново: /start"
        )
    }
    fn erase_kept(&self) -> String {
        "Хорошо, ничего не удалено.".to_owned()
    }
    fn train_ask_name(&self) -> String {
        "📸 Как назовём вашу модель? Отправьте название (до 64 символов).".to_owned()
    }
    fn train_bad_name(&self) -> String {
        "Название должно быть от 1 до 64 символов. Попробуйте ещё раз.".to_owned()
    }
    fn train_ask_photos(&self, name: &str, min: i64, max: i64) -> String {
        format!("Отлично, модель «{name}». Теперь пришлите от {min} до {max} своих фото: лицо хорошо видно, разные ракурсы и освещение, без других людей в кадре. Можно альбомом.")
    }
    fn photos_status(&self, count: i64, min: i64, max: i64, cost: i64) -> String {
        if count < min {
            format!(
                "📥 Получено фото: <b>{count}</b> из {min}–{max}. Пришлите ещё {}.",
                min - count
            )
        } else {
            format!("📥 Получено фото: <b>{count}</b> (максимум {max}). Можно начинать обучение — стоимость {cost} токенов.")
        }
    }
    fn photos_full(&self, max: i64) -> String {
        format!("Это уже {max} фото — максимум. Лишние фото не добавлены.")
    }
    fn photo_not_image(&self) -> String {
        "Этот файл не похож на фото. Пришлите изображение JPEG, PNG, WebP или HEIC.".to_owned()
    }
    fn photo_too_large(&self) -> String {
        "Файл больше 20 МБ — Telegram не даст нам его скачать. Пришлите фото поменьше.".to_owned()
    }
    fn photo_outside_dialog(&self) -> String {
        "Чтобы обучить модель по фото, начните с /train.".to_owned()
    }
    fn button_start_training(&self, cost: i64) -> String {
        format!("🚀 Начать обучение ({cost} токенов)")
    }
    fn training_started(&self, name: &str) -> String {
        format!("🚀 Обучение модели «{name}» началось! Обычно это занимает 20–30 минут. Я напишу, когда всё будет готово.")
    }
    fn too_few_photos(&self, count: i64, min: i64) -> String {
        format!("Пока только {count} фото, а нужно минимум {min}. Пришлите ещё.")
    }
    fn not_enough_tokens(&self, available: i64, required: i64) -> String {
        format!("Недостаточно токенов: нужно {required}, у вас {available}. Пополните баланс: /buy")
    }
    fn button_buy(&self) -> String {
        "🛒 Купить токены".to_owned()
    }
    fn already_started(&self) -> String {
        "Эта модель уже обучается или обучена.".to_owned()
    }
    fn model_not_ready(&self) -> String {
        "Эта модель ещё не готова к генерации.".to_owned()
    }
    fn button_no_style(&self) -> String {
        "Без стиля".to_owned()
    }
    fn ask_prompt(&self, max: usize) -> String {
        format!("✍️ Опишите, какое фото хотите (до {max} символов), или выберите готовый вариант. Пишите лучше по-английски.")
    }
    fn bad_prompt(&self, max: usize) -> String {
        format!("Описание должно быть от 1 до {max} символов.")
    }
    fn choose_count(&self, price: i64) -> String {
        format!("Сколько фото создать? Одно фото — {price} токенов.")
    }
    fn button_count(&self, images: i32, cost: i64) -> String {
        format!("{images} шт. — {cost} т.")
    }
    fn generation_started(&self, images: i32) -> String {
        format!("🎨 Создаю {images} фото… Обычно это меньше минуты.")
    }
    fn outdated_button(&self) -> String {
        "Эта кнопка устарела.".to_owned()
    }
    fn try_later(&self) -> String {
        "Сейчас это недоступно. Попробуйте позже.".to_owned()
    }
    fn buy_header(&self) -> String {
        "🛒 Выберите пакет токенов:".to_owned()
    }
    fn button_pack(&self, tokens: i64, price: &str) -> String {
        format!("{tokens} токенов — {price}")
    }
    fn invoice_title(&self, tokens: i64) -> String {
        format!("{tokens} токенов Dream Photo")
    }
    fn invoice_description(&self, tokens: i64) -> String {
        format!("{tokens} токенов для обучения моделей и создания фото в Dream Photo.")
    }
    fn payment_thanks(&self, tokens: i64, balance: i64) -> String {
        format!("✅ Оплата получена: +{tokens} токенов. Баланс: {balance}.")
    }
    fn checkout_unknown_pack(&self) -> String {
        "Этот пакет больше не продаётся. Откройте /buy ещё раз.".to_owned()
    }
    fn admin_stats(&self, s: &crate::repo::stats::GlobalStats) -> String {
        let revenue: Vec<String> = s
            .revenue
            .iter()
            .map(|r| super::money(r.amount, &r.currency))
            .collect();
        let models: Vec<String> = s
            .models_by_status
            .iter()
            .map(|m| format!("{}: {}", m.status, m.count))
            .collect();
        format!(
            "📊 <b>Статистика</b>\nПользователи: {} (сегодня {}, за 7 дней {})\nПлатящие: {}\nВыручка: {}\nТокенов продано: {}, потрачено: {}\nМодели: {}\nГенераций сегодня: {}",
            s.users_total, s.users_today, s.users_7_days, s.paying_users,
            if revenue.is_empty() { "—".to_owned() } else { revenue.join(", ") },
            s.tokens_sold, s.tokens_spent,
            if models.is_empty() { "—".to_owned() } else { models.join(", ") },
            s.generations_today
        )
    }
    fn admin_users_usage(&self) -> String {
        "Использование: /admin_users <id или @username>".to_owned()
    }
    fn admin_user_not_found(&self) -> String {
        "Пользователь не найден.".to_owned()
    }
    fn admin_user(
        &self,
        u: &crate::repo::users::User,
        payments: &[crate::repo::payments::Payment],
    ) -> String {
        let paid: Vec<String> = payments
            .iter()
            .map(|p| {
                format!(
                    "  • {} — {} ({} т.)",
                    p.created_at.format("%Y-%m-%d"),
                    super::money(p.amount, &p.currency),
                    p.tokens
                )
            })
            .collect();
        format!(
            "👤 <b>{}</b> (id {})\nЯзык: {}\nС нами с {}\nБаланс: {}, потрачено: {}\nЗаблокирован: {}\nПлатежи:\n{}",
            super::html(&u.display_name()), u.id, u.language_code.as_deref().unwrap_or("—"), u.activated_at.format("%Y-%m-%d"),
            u.tokens_left, u.tokens_spent, if u.is_blocked { "да" } else { "нет" },
            if paid.is_empty() { "  —".to_owned() } else { paid.join("\n") }
        )
    }
    fn button_block(&self, blocked: bool) -> String {
        if blocked {
            "🔒 Заблокировать".to_owned()
        } else {
            "🔓 Разблокировать".to_owned()
        }
    }
    fn button_tokens(&self, delta: i64) -> String {
        format!("{delta:+} токенов")
    }
    fn admin_done(&self, what: &str) -> String {
        format!("✅ Готово: {what}")
    }
    fn admin_models(
        &self,
        recent: &[crate::repo::models::Model],
        failing: &[crate::repo::models::Model],
    ) -> String {
        let line = |m: &crate::repo::models::Model| {
            format!(
                "  • #{} {} (user {}) — {}{}",
                m.id,
                super::html(&m.name),
                m.user_id,
                m.status.as_str(),
                m.error
                    .as_deref()
                    .map(|e| format!(": {}", super::html(e)))
                    .unwrap_or_default()
            )
        };
        format!(
            "🧠 <b>Последние модели</b>\n{}\n\n❌ <b>Неудачные</b>\n{}",
            if recent.is_empty() {
                "  —".to_owned()
            } else {
                recent.iter().map(line).collect::<Vec<_>>().join("\n")
            },
            if failing.is_empty() {
                "  —".to_owned()
            } else {
                failing.iter().map(line).collect::<Vec<_>>().join("\n")
            }
        )
    }
    fn admin_payments(
        &self,
        recent: &[crate::repo::payments::Payment],
        totals: &[crate::repo::payments::Revenue],
    ) -> String {
        let lines: Vec<String> = recent
            .iter()
            .map(|p| {
                format!(
                    "  • {} user {} — {} ({} т.)",
                    p.created_at.format("%Y-%m-%d %H:%M"),
                    p.user_id,
                    super::money(p.amount, &p.currency),
                    p.tokens
                )
            })
            .collect();
        let sums: Vec<String> = totals
            .iter()
            .map(|r| {
                format!(
                    "{} ({} платежей)",
                    super::money(r.amount, &r.currency),
                    r.payments
                )
            })
            .collect();
        format!(
            "💳 <b>Последние платежи</b>\n{}\n\nИтого: {}",
            if lines.is_empty() {
                "  —".to_owned()
            } else {
                lines.join("\n")
            },
            if sums.is_empty() {
                "—".to_owned()
            } else {
                sums.join(", ")
            }
        )
    }
    fn admin_styles(&self, styles: &[crate::repo::styles::Style]) -> String {
        let lines: Vec<String> = styles
            .iter()
            .map(|s| {
                format!(
                    "  • #{} {} — {}",
                    s.id,
                    super::html(&s.name),
                    if s.is_active { "вкл." } else { "выкл." }
                )
            })
            .collect();
        format!("🎨 <b>Стили</b>\n{}\n\nДобавить: /admin_styles add Название | описание | шаблон с {{prompt}}",
            if lines.is_empty() { "  —".to_owned() } else { lines.join("\n") })
    }
    fn button_style_toggle(&self, name: &str, active: bool) -> String {
        if active {
            format!("▶️ Включить «{name}»")
        } else {
            format!("⏸ Выключить «{name}»")
        }
    }
    fn admin_style_usage(&self) -> String {
        "Использование: /admin_styles add Название | описание | шаблон с {prompt} [| tags=a,b | preview=URL | lora=URL | weight=0.8 | trigger=СЛОВО | gender=female]\nТеги: /admin_styles tags ID a,b".to_owned()
    }
    fn admin_style_exists(&self) -> String {
        "Стиль с таким названием уже есть.".to_owned()
    }
    fn admin_new_user(&self, user: &str, id: i64, referred: bool) -> String {
        format!(
            "👋 Новый пользователь: {user} (id {id}){}",
            if referred {
                ", по реферальной ссылке"
            } else {
                ""
            }
        )
    }
    fn command_menu(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("train", "Обучить модель по фото"),
            ("models", "Мои модели и генерация"),
            ("history", "Последние генерации"),
            ("balance", "Баланс токенов"),
            ("buy", "Купить токены"),
            ("referral", "Пригласить друзей"),
            ("cancel", "Выйти из диалога"),
            ("delete_me", "Удалить мои данные"),
            ("help", "Справка"),
        ]
    }
    fn promo_usage(&self) -> String {
        "Отправьте промокод так: /promo КОД".to_owned()
    }
    fn promo_tokens(&self, tokens: i64, balance: i64) -> String {
        format!("🎉 Промокод принят: +{tokens} токенов. Баланс: {balance}.")
    }
    fn promo_discount(&self, percent: i32) -> String {
        format!("🎉 Промокод принят: скидка {percent}% на следующую покупку. Выберите пакет: /buy")
    }
    fn promo_refused(&self, refusal: crate::service::promo::Refusal) -> String {
        use crate::service::promo::Refusal::*;
        match refusal {
            Unknown => "Такого промокода нет.".to_owned(),
            Expired => "Срок действия промокода истёк.".to_owned(),
            Exhausted => "Промокод уже использован максимальное число раз.".to_owned(),
            AlreadyUsed => "Вы уже использовали этот промокод.".to_owned(),
            TooManyAttempts { retry_after } => format!(
                "Слишком много попыток ввести промокод. Попробуйте через {} мин.",
                (retry_after + 59) / 60
            ),
        }
    }
    fn discount_note(&self, percent: i32) -> String {
        format!("Ваша скидка {percent}% уже учтена в ценах.")
    }
    fn owners_only(&self) -> String {
        "Это может только владелец (ADMIN_IDS).".to_owned()
    }
    fn admin_admins(&self, owners: &[i64], admins: &[crate::repo::admins::AdminEntry]) -> String {
        let owners: Vec<String> = owners
            .iter()
            .map(|id| format!("  • {id} (владелец)"))
            .collect();
        let admins: Vec<String> = admins
            .iter()
            .map(|a| {
                format!(
                    "  • {} {} (добавил {})",
                    a.user_id,
                    super::html(a.display_name.as_deref().unwrap_or("")),
                    a.added_by
                )
            })
            .collect();
        format!("👮 <b>Администраторы</b>\n{}\n{}\n\n/admin_add id — добавить, /admin_remove id — убрать",
            owners.join("\n"), if admins.is_empty() { "  —".to_owned() } else { admins.join("\n") })
    }
    fn admin_log(&self, entries: &[crate::repo::admins::ActionEntry]) -> String {
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                format!(
                    "  • {} {} → {} {}{}",
                    e.created_at.format("%Y-%m-%d %H:%M"),
                    e.admin_id,
                    e.action.as_str(),
                    e.target_user_id
                        .map(|u| format!("user {u}"))
                        .unwrap_or_default(),
                    e.subject
                        .as_deref()
                        .map(|s| format!(" {}", super::html(s)))
                        .unwrap_or_default()
                )
            })
            .collect();
        format!(
            "📜 <b>Журнал действий</b>\n{}",
            if lines.is_empty() {
                "  —".to_owned()
            } else {
                lines.join("\n")
            }
        )
    }
    fn admin_promos(&self, codes: &[crate::repo::promos::PromoCode]) -> String {
        let lines: Vec<String> = codes
            .iter()
            .map(|c| {
                format!(
                    "  • {} — {}, использован {}{}{}{}",
                    c.code,
                    c.tokens
                        .map(|t| format!("{t} токенов"))
                        .or(c.discount_percent.map(|p| format!("скидка {p}%")))
                        .unwrap_or_default(),
                    c.used_count,
                    c.max_uses.map(|m| format!("/{m}")).unwrap_or_default(),
                    c.valid_until
                        .map(|u| format!(", до {}", u.format("%Y-%m-%d")))
                        .unwrap_or_default(),
                    if c.is_active { "" } else { ", выкл." }
                )
            })
            .collect();
        format!(
            "🎟 <b>Промокоды</b>\n{}\n\n{}",
            if lines.is_empty() {
                "  —".to_owned()
            } else {
                lines.join("\n")
            },
            self.admin_promo_usage()
        )
    }
    fn admin_promo_usage(&self) -> String {
        "Создать: /admin_promo add КОД tokens=100 (или discount=20) [max=50] [from=2026-12-01] [until=2026-12-31]\nИзменить: /admin_promo edit КОД [max=N|max=none] [until=ГГГГ-ММ-ДД|until=none]\nВыключить/включить: /admin_promo off КОД, /admin_promo on КОД".to_owned()
    }
    fn admin_error(&self, message: &str) -> String {
        format!("⚠️ {message}")
    }
    fn rate_prompt(&self) -> String {
        "Как вам эти фото? Оцените от 1 до 5:".to_owned()
    }
    fn rate_thanks(&self) -> String {
        "Спасибо за оценку! Хотите добавить комментарий? Просто напишите его (или /cancel)."
            .to_owned()
    }
    fn comment_thanks(&self) -> String {
        "Спасибо, мы прочитаем! 🙏".to_owned()
    }
    fn choose_tag(&self) -> String {
        "🎨 Выберите категорию стилей:".to_owned()
    }
    fn button_all_styles(&self) -> String {
        "Все стили".to_owned()
    }
    fn styles_page(&self, tag: Option<&str>, page: u32, pages: u32) -> String {
        format!(
            "🎨 Стили{}: страница {} из {pages}. Выберите стиль:",
            tag.map(|t| format!(" «{t}»")).unwrap_or_default(),
            page + 1
        )
    }
    fn button_prev(&self) -> String {
        "◀️ Назад".to_owned()
    }
    fn button_next(&self) -> String {
        "Дальше ▶️".to_owned()
    }
    fn system_model_label(&self) -> String {
        "для всех".to_owned()
    }
    fn admin_system_usage(&self) -> String {
        "Использование: /admin_system ID_модели [off] — сделать готовую модель доступной всем (или убрать)".to_owned()
    }
    fn admin_insights(
        &self,
        funnels: &[crate::repo::events::Funnel],
        ratings: &[crate::repo::feedback::StyleRating],
        low: &[crate::repo::feedback::LowRating],
    ) -> String {
        let funnel: Vec<String> = funnels
            .iter()
            .map(|f| {
                format!(
                    "  {}: {} → {} → {} → {}",
                    if f.days == 1 {
                        "сегодня".to_owned()
                    } else {
                        format!("{} дн.", f.days)
                    },
                    f.started,
                    f.trained,
                    f.generated,
                    f.paid
                )
            })
            .collect();
        let rated: Vec<String> = ratings
            .iter()
            .map(|r| {
                format!(
                    "  • {}: {:.2} ({} оценок)",
                    super::html(r.style.as_deref().unwrap_or("без стиля")),
                    r.average,
                    r.ratings
                )
            })
            .collect();
        let lows: Vec<String> = low
            .iter()
            .map(|l| {
                format!(
                    "  • #{} ⭐{} {}{}",
                    l.generation_id,
                    l.rating,
                    super::html(&l.prompt.chars().take(40).collect::<String>()),
                    l.comment
                        .as_deref()
                        .map(|c| format!(" — «{}»", super::html(c)))
                        .unwrap_or_default()
                )
            })
            .collect();
        format!("\n\n🔻 <b>Воронка</b> (старт → модель → фото → оплата)\n{}\n\n⭐ <b>Оценки по стилям</b>\n{}\n\n👎 <b>Низкие оценки</b>\n{}",
            funnel.join("\n"), if rated.is_empty() { "  —".to_owned() } else { rated.join("\n") }, if lows.is_empty() { "  —".to_owned() } else { lows.join("\n") })
    }
}
