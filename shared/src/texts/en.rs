use super::Texts;

pub struct En;

impl Texts for En {
    fn welcome(&self, first_name: &str) -> String {
        format!(
            "Hi, {first_name}! 👋\n\n\
             I'm <b>Dream Photo</b>. Send me 10–20 selfies and I'll train your personal model, \
             then create photos of you in any look and style.\n\n\
             Start with /train or use the menu below."
        )
    }
    fn help(&self) -> String {
        "<b>What I can do</b>\n\n\
         /train — train your model from 10–20 photos\n\
         /models — your models, and generating photos\n\
         /history — your latest generations\n\
         /balance — your token balance\n\
         /buy — buy tokens\n\
         /referral — invite friends and earn a bonus\n\
         /cancel — leave the current dialogue\n\
         /delete_me — delete my data\n\
         /help — this help"
            .to_owned()
    }
    fn unknown_command(&self) -> String {
        "I don't know that command. See /help for the list.".to_owned()
    }
    fn blocked(&self) -> String {
        "Your account is blocked. If you think this is a mistake, contact support.".to_owned()
    }
    fn menu_train(&self) -> String {
        "📸 Train a model".to_owned()
    }
    fn menu_models(&self) -> String {
        "🖼 My models".to_owned()
    }
    fn menu_balance(&self) -> String {
        "💰 Balance".to_owned()
    }
    fn menu_buy(&self) -> String {
        "🛒 Buy tokens".to_owned()
    }
    fn menu_referral(&self) -> String {
        "🎁 Invite a friend".to_owned()
    }
    fn menu_help(&self) -> String {
        "❓ Help".to_owned()
    }

    fn button_generate(&self) -> String {
        "✨ Generate photos".to_owned()
    }
    fn model_ready(&self, name: &str) -> String {
        format!(
            "🎉 Your model “{name}” is ready! Tap “Generate photos” to get your first pictures."
        )
    }
    fn training_failed(&self, name: &str, refunded: i64) -> String {
        let refund = if refunded > 0 {
            format!(" {refunded} tokens are back on your balance.")
        } else {
            String::new()
        };
        format!(
            "😔 Training your model “{name}” failed.{refund} Try again with other photos: /train"
        )
    }
    fn generation_caption(&self, prompt: &str) -> String {
        format!("✨ {prompt}")
    }
    fn generation_failed(&self, refunded: i64) -> String {
        let refund = if refunded > 0 {
            format!(" {refunded} tokens are back on your balance.")
        } else {
            String::new()
        };
        format!("😔 Generating your photos failed.{refund} Try another prompt.")
    }
    fn admin_training_failed(&self, user: &str, model_id: i64, error: &str) -> String {
        format!("⚠️ Training of model #{model_id} ({user}) failed: {error}")
    }
    fn admin_replicate_refused_us(&self, error: &str) -> String {
        format!("🚨 Replicate refuses our API token ({error}). Trainings wait in the queue, nobody is refunded: renew the token or add credit.")
    }
    fn admin_generation_failed(&self, user: &str, generation_id: i64, error: &str) -> String {
        format!("⚠️ Generation #{generation_id} ({user}) failed: {error}")
    }
    fn admin_payment(&self, user: &str, tokens: i64, amount: i64, currency: &str) -> String {
        format!(
            "💰 Payment: {user} bought {tokens} tokens for {}",
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
            format!("⚠️ Payment #{payment_id}: {user} paid {paid} for pack «{pack}», which is no longer sold; credited {tokens} tokens as the invoice said")
        } else {
            format!("⚠️ Payment #{payment_id}: {user} paid {paid} for pack «{pack}», which is no longer sold; nothing was credited, settle it by hand (/admin_users)")
        }
    }
    fn admin_effect_failed(&self, effect_id: i64, what: &str, error: &str) -> String {
        format!("⚠️ Effect #{effect_id} ({what}) failed for good: {error}")
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
            "⚠️ Payment #{payment_id} from {user} ({}) does not match its invoice: {reason}. Nothing was credited; settle it by hand (/admin_users)",
            super::money(amount, currency)
        )
    }
    fn payment_disputed(&self, payment_id: i64) -> String {
        format!("We received your payment #{payment_id}, but it does not match the offer it was for. Nothing is lost: our team will look into it and get back to you.")
    }
    fn balance(&self, left: i64, spent: i64) -> String {
        format!("💰 Balance: <b>{left}</b> tokens\nSpent so far: {spent}\n\nTop up: /buy")
    }
    fn status_label(&self, status: crate::domain::status::ModelStatus) -> String {
        use crate::domain::status::ModelStatus::*;
        match status {
            Draft => "📝 draft",
            Queued => "⏳ queued",
            Training => "🔄 training",
            Ready => "✅ ready",
            Failed => "❌ failed",
            Canceled => "🚫 canceled",
        }
        .to_owned()
    }
    fn models_empty(&self) -> String {
        "You have no models yet. Train your first one: /train".to_owned()
    }
    fn models_header(&self) -> String {
        "<b>Your models</b>".to_owned()
    }
    fn model_line(&self, name: &str, status: &str, photos: i64) -> String {
        format!("• {name} — {status} ({photos} photos)")
    }
    fn button_share(&self, name: &str, shared: bool) -> String {
        if shared {
            format!("🔒 Stop offering «{name}» to everyone")
        } else {
            format!("🌍 Let us offer «{name}» to everyone")
        }
    }
    fn button_generate_with(&self, name: &str) -> String {
        format!("✨ Photos with “{name}”")
    }
    fn history_empty(&self) -> String {
        "No generations yet.".to_owned()
    }
    fn history_header(&self) -> String {
        "<b>Your latest generations</b>".to_owned()
    }
    fn history_line(&self, date: &str, prompt: &str, status: &str, images: i32) -> String {
        format!("• {date}: {prompt} — {status}, {images} image(s)")
    }
    fn generation_status_label(&self, status: crate::domain::status::GenerationStatus) -> String {
        use crate::domain::status::GenerationStatus::*;
        match status {
            Pending | Starting | Processing => "in progress",
            Succeeded => "done",
            Failed => "failed",
            Canceled => "canceled",
        }
        .to_owned()
    }
    fn referral(&self, link: &str, joined: i64, paid: i64, earned: i64, bonus: i64) -> String {
        format!("🎁 <b>Invite friends</b>\n\nYour link: {link}\n\nWhen a friend buys tokens for the first time, you get {bonus} tokens.\nJoined: {joined}, paid: {paid}, earned: {earned} tokens.")
    }
    fn referral_joined(&self, name: &str) -> String {
        format!("🎉 {name} joined through your link! Your bonus arrives with their first purchase.")
    }
    fn referral_bonus(&self, tokens: i64) -> String {
        format!("🎁 Your friend made their first purchase: {tokens} tokens are yours!")
    }
    fn cancelled(&self) -> String {
        "OK, cancelled. What next? /help".to_owned()
    }
    fn erase_explain(&self) -> String {
        "<b>Delete my data</b>\n\n\
         This deletes, here and at our AI provider (Replicate):\n\
         • your training photos and your models (a training in progress is stopped);\n\
         • your generations, their photos and your ratings;\n\
         • your name, username and language.\n\n\
         We keep your payments and the token history, by your user id only, as accounting requires; \
         your token balance stays yours. You can use the bot again afterwards, from scratch.\n\n\
         This cannot be undone."
            .to_owned()
    }
    fn button_erase_confirm(&self) -> String {
        "🗑 Yes, delete my data".to_owned()
    }
    fn button_erase_cancel(&self) -> String {
        "Cancel".to_owned()
    }
    fn erase_done(&self, balance: i64) -> String {
        format!(
            "✅ Your data is deleted. Payments and the token history are kept by your id only; \
             your balance: <b>{balance}</b> tokens. To start again: /start"
        )
    }
    fn erase_kept(&self) -> String {
        "OK, nothing was deleted.".to_owned()
    }
    fn train_ask_name(&self) -> String {
        "📸 What should we call your model? Send a name (up to 64 characters).".to_owned()
    }
    fn train_bad_name(&self) -> String {
        "The name must be 1 to 64 characters. Try again.".to_owned()
    }
    fn train_ask_photos(&self, name: &str, min: i64, max: i64) -> String {
        format!("Great, model “{name}”. Now send {min} to {max} photos of yourself: face clearly visible, different angles and light, nobody else in the frame. Albums are fine.")
    }
    fn photos_status(&self, count: i64, min: i64, max: i64, cost: i64) -> String {
        if count < min {
            format!(
                "📥 Photos received: <b>{count}</b> of {min}–{max}. Send {} more.",
                min - count
            )
        } else {
            format!("📥 Photos received: <b>{count}</b> (up to {max}). Ready to train — it costs {cost} tokens.")
        }
    }
    fn photos_full(&self, max: i64) -> String {
        format!("That makes {max} photos, the maximum. Extra photos were not added.")
    }
    fn photo_not_image(&self) -> String {
        "That file is not a photo. Send a JPEG, PNG, WebP or HEIC image.".to_owned()
    }
    fn photo_too_large(&self) -> String {
        "The file is larger than 20 MB, which Telegram won't let us download. Send a smaller photo."
            .to_owned()
    }
    fn photo_outside_dialog(&self) -> String {
        "To train a model from your photos, start with /train.".to_owned()
    }
    fn button_start_training(&self, cost: i64) -> String {
        format!("🚀 Start training ({cost} tokens)")
    }
    fn training_started(&self, name: &str) -> String {
        format!("🚀 Training of “{name}” has started! It usually takes 20–30 minutes. I'll message you when it's ready.")
    }
    fn too_few_photos(&self, count: i64, min: i64) -> String {
        format!("Only {count} photos so far; at least {min} are needed. Send more.")
    }
    fn not_enough_tokens(&self, available: i64, required: i64) -> String {
        format!("Not enough tokens: {required} needed, you have {available}. Top up: /buy")
    }
    fn button_buy(&self) -> String {
        "🛒 Buy tokens".to_owned()
    }
    fn already_started(&self) -> String {
        "This model is already training or trained.".to_owned()
    }
    fn model_not_ready(&self) -> String {
        "This model is not ready for generation yet.".to_owned()
    }
    fn button_no_style(&self) -> String {
        "No style".to_owned()
    }
    fn ask_prompt(&self, max: usize) -> String {
        format!("✍️ Describe the photo you want (up to {max} characters), or pick a preset.")
    }
    fn bad_prompt(&self, max: usize) -> String {
        format!("The description must be 1 to {max} characters.")
    }
    fn choose_count(&self, price: i64) -> String {
        format!("How many photos? Each one costs {price} tokens.")
    }
    fn button_count(&self, images: i32, cost: i64) -> String {
        format!("{images} — {cost} tokens")
    }
    fn generation_started(&self, images: i32) -> String {
        format!("🎨 Creating {images} photo(s)… usually under a minute.")
    }
    fn outdated_button(&self) -> String {
        "This button is out of date.".to_owned()
    }
    fn try_later(&self) -> String {
        "This is not available right now. Try again later.".to_owned()
    }
    fn buy_header(&self) -> String {
        "🛒 Choose a token pack:".to_owned()
    }
    fn button_pack(&self, tokens: i64, price: &str) -> String {
        format!("{tokens} tokens — {price}")
    }
    fn invoice_title(&self, tokens: i64) -> String {
        format!("{tokens} Dream Photo tokens")
    }
    fn invoice_description(&self, tokens: i64) -> String {
        format!("{tokens} tokens for training models and creating photos in Dream Photo.")
    }
    fn payment_thanks(&self, tokens: i64, balance: i64) -> String {
        format!("✅ Payment received: +{tokens} tokens. Balance: {balance}.")
    }
    fn checkout_unknown_pack(&self) -> String {
        "This pack is no longer sold. Open /buy again.".to_owned()
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
            "📊 <b>Statistics</b>\nUsers: {} (today {}, 7 days {})\nPaying: {}\nRevenue: {}\nTokens sold: {}, spent: {}\nModels: {}\nGenerations today: {}",
            s.users_total, s.users_today, s.users_7_days, s.paying_users,
            if revenue.is_empty() { "—".to_owned() } else { revenue.join(", ") },
            s.tokens_sold, s.tokens_spent,
            if models.is_empty() { "—".to_owned() } else { models.join(", ") },
            s.generations_today
        )
    }
    fn admin_users_usage(&self) -> String {
        "Usage: /admin_users <id or @username>".to_owned()
    }
    fn admin_user_not_found(&self) -> String {
        "No such user.".to_owned()
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
                    "  • {} — {} ({} tokens)",
                    p.created_at.format("%Y-%m-%d"),
                    super::money(p.amount, &p.currency),
                    p.tokens
                )
            })
            .collect();
        format!(
            "👤 <b>{}</b> (id {})\nLanguage: {}\nJoined: {}\nBalance: {}, spent: {}\nBlocked: {}\nPayments:\n{}",
            super::html(&u.display_name()), u.id, u.language_code.as_deref().unwrap_or("—"), u.activated_at.format("%Y-%m-%d"),
            u.tokens_left, u.tokens_spent, if u.is_blocked { "yes" } else { "no" },
            if paid.is_empty() { "  —".to_owned() } else { paid.join("\n") }
        )
    }
    fn button_block(&self, blocked: bool) -> String {
        if blocked {
            "🔒 Block".to_owned()
        } else {
            "🔓 Unblock".to_owned()
        }
    }
    fn button_tokens(&self, delta: i64) -> String {
        format!("{delta:+} tokens")
    }
    fn admin_done(&self, what: &str) -> String {
        format!("✅ Done: {what}")
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
            "🧠 <b>Recent models</b>\n{}\n\n❌ <b>Failed</b>\n{}",
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
                    "  • {} user {} — {} ({} tokens)",
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
                    "{} ({} payments)",
                    super::money(r.amount, &r.currency),
                    r.payments
                )
            })
            .collect();
        format!(
            "💳 <b>Recent payments</b>\n{}\n\nTotal: {}",
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
                    if s.is_active { "on" } else { "off" }
                )
            })
            .collect();
        format!("🎨 <b>Styles</b>\n{}\n\nAdd: /admin_styles add Name | description | template with {{prompt}}",
            if lines.is_empty() { "  —".to_owned() } else { lines.join("\n") })
    }
    fn button_style_toggle(&self, name: &str, active: bool) -> String {
        if active {
            format!("▶️ Enable “{name}”")
        } else {
            format!("⏸ Disable “{name}”")
        }
    }
    fn admin_style_usage(&self) -> String {
        "Usage: /admin_styles add Name | description | template with {prompt} [| tags=a,b | preview=URL | lora=URL | weight=0.8 | trigger=WORD | gender=female]\nTags: /admin_styles tags ID a,b".to_owned()
    }
    fn admin_style_exists(&self) -> String {
        "A style with that name exists.".to_owned()
    }
    fn admin_new_user(&self, user: &str, id: i64, referred: bool) -> String {
        format!(
            "👋 New user: {user} (id {id}){}",
            if referred {
                ", via a referral link"
            } else {
                ""
            }
        )
    }
    fn command_menu(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("train", "Train a model from your photos"),
            ("models", "My models and generating"),
            ("history", "Latest generations"),
            ("balance", "Token balance"),
            ("buy", "Buy tokens"),
            ("referral", "Invite friends"),
            ("cancel", "Leave the current dialogue"),
            ("delete_me", "Delete my data"),
            ("help", "Help"),
        ]
    }
    fn promo_usage(&self) -> String {
        "Send a promo code like this: /promo CODE".to_owned()
    }
    fn promo_tokens(&self, tokens: i64, balance: i64) -> String {
        format!("🎉 Promo code accepted: +{tokens} tokens. Balance: {balance}.")
    }
    fn promo_discount(&self, percent: i32) -> String {
        format!("🎉 Promo code accepted: {percent}% off your next purchase. Choose a pack: /buy")
    }
    fn promo_refused(&self, refusal: crate::service::promo::Refusal) -> String {
        use crate::service::promo::Refusal::*;
        match refusal {
            Unknown => "There is no such promo code.".to_owned(),
            Expired => "This promo code has expired.".to_owned(),
            Exhausted => "This promo code has been used up.".to_owned(),
            AlreadyUsed => "You have already used this promo code.".to_owned(),
            TooManyAttempts { retry_after } => format!(
                "Too many promo code attempts. Try again in {} min.",
                (retry_after + 59) / 60
            ),
        }
    }
    fn discount_note(&self, percent: i32) -> String {
        format!("Your {percent}% discount is applied to these prices.")
    }
    fn owners_only(&self) -> String {
        "Only an owner (ADMIN_IDS) can do this.".to_owned()
    }
    fn admin_admins(&self, owners: &[i64], admins: &[crate::repo::admins::AdminEntry]) -> String {
        let owners: Vec<String> = owners
            .iter()
            .map(|id| format!("  • {id} (owner)"))
            .collect();
        let admins: Vec<String> = admins
            .iter()
            .map(|a| {
                format!(
                    "  • {} {} (added by {})",
                    a.user_id,
                    super::html(a.display_name.as_deref().unwrap_or("")),
                    a.added_by
                )
            })
            .collect();
        format!(
            "👮 <b>Admins</b>\n{}\n{}\n\n/admin_add id — add, /admin_remove id — remove",
            owners.join("\n"),
            if admins.is_empty() {
                "  —".to_owned()
            } else {
                admins.join("\n")
            }
        )
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
            "📜 <b>Audit log</b>\n{}",
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
                    "  • {} — {}, used {}{}{}{}",
                    c.code,
                    c.tokens
                        .map(|t| format!("{t} tokens"))
                        .or(c.discount_percent.map(|p| format!("{p}% off")))
                        .unwrap_or_default(),
                    c.used_count,
                    c.max_uses.map(|m| format!("/{m}")).unwrap_or_default(),
                    c.valid_until
                        .map(|u| format!(", until {}", u.format("%Y-%m-%d")))
                        .unwrap_or_default(),
                    if c.is_active { "" } else { ", off" }
                )
            })
            .collect();
        format!(
            "🎟 <b>Promo codes</b>\n{}\n\n{}",
            if lines.is_empty() {
                "  —".to_owned()
            } else {
                lines.join("\n")
            },
            self.admin_promo_usage()
        )
    }
    fn admin_promo_usage(&self) -> String {
        "Create: /admin_promo add CODE tokens=100 (or discount=20) [max=50] [from=2026-12-01] [until=2026-12-31]\nEdit: /admin_promo edit CODE [max=N|max=none] [until=YYYY-MM-DD|until=none]\nSwitch off/on: /admin_promo off CODE, /admin_promo on CODE".to_owned()
    }
    fn admin_error(&self, message: &str) -> String {
        format!("⚠️ {message}")
    }
    fn rate_prompt(&self) -> String {
        "How do you like these photos? Rate them 1 to 5:".to_owned()
    }
    fn rate_thanks(&self) -> String {
        "Thanks for rating! Want to add a comment? Just send it (or /cancel).".to_owned()
    }
    fn comment_thanks(&self) -> String {
        "Thank you, we'll read it! 🙏".to_owned()
    }
    fn choose_tag(&self) -> String {
        "🎨 Choose a style category:".to_owned()
    }
    fn button_all_styles(&self) -> String {
        "All styles".to_owned()
    }
    fn styles_page(&self, tag: Option<&str>, page: u32, pages: u32) -> String {
        format!(
            "🎨 Styles{}: page {} of {pages}. Pick one:",
            tag.map(|t| format!(" “{t}”")).unwrap_or_default(),
            page + 1
        )
    }
    fn button_prev(&self) -> String {
        "◀️ Back".to_owned()
    }
    fn button_next(&self) -> String {
        "Next ▶️".to_owned()
    }
    fn system_model_label(&self) -> String {
        "for everyone".to_owned()
    }
    fn admin_system_usage(&self) -> String {
        "Usage: /admin_system MODEL_ID [off] — offer a ready model to everyone (or stop)".to_owned()
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
                        "today".to_owned()
                    } else {
                        format!("{} days", f.days)
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
                    "  • {}: {:.2} ({} ratings)",
                    super::html(r.style.as_deref().unwrap_or("no style")),
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
                        .map(|c| format!(" — “{}”", super::html(c)))
                        .unwrap_or_default()
                )
            })
            .collect();
        format!("\n\n🔻 <b>Funnel</b> (started → trained → generated → paid)\n{}\n\n⭐ <b>Ratings by style</b>\n{}\n\n👎 <b>Low ratings</b>\n{}",
            funnel.join("\n"), if rated.is_empty() { "  —".to_owned() } else { rated.join("\n") }, if lows.is_empty() { "  —".to_owned() } else { lows.join("\n") })
    }
}
