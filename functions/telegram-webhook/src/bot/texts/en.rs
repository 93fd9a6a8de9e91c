use super::reports::Labels;
use super::{
    GenerationStatusLabels, ModelStatusLabels, PhotoProblemLabels, PromoRefusals, Templates, Texts,
};

pub(super) static TEXTS: Texts = Texts {
    help_title: "<b>What I can do</b>",
    unknown_command: "I don't know that command. See /help for the list.",
    blocked: "Your account is blocked. If you think this is a mistake, contact support.",
    no_support_contact: "the bot's owners (support is not set up yet)",
    button_new_model: "🆕 Start a new model",
    support_link: "support",
    cancelled: "OK, cancelled. What next? /help",
    outdated_button: "This button is out of date.",
    try_later: "This is not available right now. Try again later.",

    menu_train: "📸 Train a model",
    menu_models: "🖼 My models",
    menu_balance: "💰 Balance",
    menu_buy: "🛒 Buy tokens",
    menu_referral: "🎁 Invite a friend",
    menu_help: "❓ Help",

    models_empty: "You have no models yet. Train your first one: /train",
    models_header: "<b>Your models</b>",
    system_model_label: "for everyone",
    history_empty: "No generations yet.",
    history_header: "<b>Your latest generations</b>",

    erase_explain: "<b>Delete my data</b>\n\n\
        This deletes, here and at our AI provider (Replicate):\n\
        • your training photos and your models (a training in progress is stopped);\n\
        • your generations, their photos and your ratings;\n\
        • your name, username and language.\n\n\
        We keep your payments and the token history, by your user id only, as accounting requires; \
        your token balance stays yours. You can use the bot again afterwards, from scratch.\n\n\
        This cannot be undone.",
    button_erase_confirm: "🗑 Yes, delete my data",
    button_erase_cancel: "Cancel",
    language_choose: "🌐 Choose your language / Выберите язык:",
    language_set: "✅ Done: I speak English with you now.",
    button_mini_app: "📱 Open the app",
    mini_app_offer: "All of this is in the app too: your models, photos and purchases in one window.",
    erase_kept: "OK, nothing was deleted.",

    train_ask_name: "📸 What should we call your model? Send a name (up to 64 characters).",
    train_bad_name: "The name must be 1 to 64 characters. Try again.",
    photo_not_image: "That file is not a photo. Send a JPEG, PNG, WebP or HEIC image.",
    photo_too_large: "The file is larger than 20 MB, which Telegram won't let us download. Send a smaller photo.",
    already_started: "This model is already training or trained.",
    photos_replace_header: "⚠️ Replace these photos (they don't count):",

    model_not_ready: "This model is not ready for generation yet.",
    again_already_made: "That one is on its way already (nothing more was charged). For more, press “More like this” under the new photos.",
    prompt_refused: "🚫 We don't make pictures like that, so nothing was charged. Describe another scene.",
    choose_tag: "🎨 Choose a style category:",
    button_all_styles: "All styles",
    button_no_style: "No style",
    button_prev: "◀️ Back",
    button_next: "Next ▶️",
    rate_thanks: "Thanks for rating! Want to add a comment? Just send it (or /cancel).",
    comment_thanks: "Thank you, we'll read it! 🙏",
    free_redo_used: "The free redo of these photos is already used: it is on its way, or delivered above.",
    style_gone: "That style is no longer offered. Pick another with /models.",

    buy_header: "🛒 Choose a token pack:",
    button_buy: "🛒 Buy tokens",
    checkout_unknown_pack: "This pack is no longer sold. Open /buy again.",
    promo_usage: "Send a promo code like this: /promo CODE",

    owners_only: "Only an owner (ADMIN_IDS) can do this.",
    admin_users_usage: "Usage: /admin_users <id or @username>",
    admin_user_not_found: "No such user.",
    admin_system_usage: "Usage: /admin_system MODEL_ID [off] — offer a ready model to everyone (or stop)",
    admin_style_usage: "Usage: /admin_styles add Name | description | template with {prompt} \
        [| tags=a,b | preview=URL | lora=URL | weight=0.8 | trigger=WORD | gender=female]\n\
        Tags: /admin_styles tags ID a,b",
    admin_style_exists: "A style with that name exists.",
    admin_promo_usage: "Create: /admin_promo add CODE tokens=100 (or discount=20) [max=50] [from=2026-12-01] [until=2026-12-31]\n\
        Edit: /admin_promo edit CODE [max=N|max=none] [until=YYYY-MM-DD|until=none]\n\
        Switch off/on: /admin_promo off CODE, /admin_promo on CODE",
    admin_refund_usage: "Usage: /admin_refund CHARGE_ID — refund a Stars payment (its charge id is in /admin_payments and the payment notice); the tokens it bought are taken back",
    admin_refund_not_found: "No payment has this charge id.",
    admin_refund_already: "This payment is already refunded.",
    admin_refund_in_progress: "A refund of this payment is already under way.",
    button_block: "🔒 Block",
    button_unblock: "🔓 Unblock",

    templates: Templates {
        draft_found: "You have an unfinished model, «{name}», with {photos} photos. Go on with it, or start a new one (that one is dropped)?",
        button_resume_draft: "▶️ Go on with «{name}»",
        pay_support: "💬 <b>Payment support</b>\n\n\
            A problem with a payment or your tokens? Write to {contact} with the date and the amount \
            of the payment; we answer within a day.\n\n\
            A training or a generation that fails gives its tokens back by itself: see /balance.",
        terms: "📄 <b>Terms of service</b>\n\n\
            • Tokens are bought with Telegram Stars and spent on trainings ({training} tokens each) \
            and photos ({image} tokens an image).\n\
            • A training or a generation that fails is refunded in tokens, automatically.\n\
            • Your photos train your own model only. They are deleted when the training ends; \
            /delete_me deletes everything else of yours.\n\
            • Send photos of yourself only, or of someone who agreed.\n\
            • Stars for tokens you have not spent: write to {contact}.",
        blocked_contact: "Your account is blocked. If you think this is a mistake, write to {contact}.",
        welcome: "Hi, {first_name}! 👋\n\n\
            I'm <b>Dream Photo</b>. Send me 10–20 selfies and I'll train your personal model, \
            then create photos of you in any look and style.\n\n\
            Start with /train or use the menu below.",
        balance: "💰 Balance: <b>{left}</b> {left:token|tokens}\nSpent so far: {spent}\n\nTop up: /buy",
        model_line: "• {name} — {status} ({photos} {photos:photo|photos})",
        button_generate_with: "✨ Photos with “{name}”",
        button_share: "🌍 Let us offer «{name}» to everyone",
        button_unshare: "🔒 Stop offering «{name}» to everyone",
        button_retrain: "🔁 Retrain «{name}» with more photos",
        retrain_started: "🔁 Retraining «{name}» for {cost} {cost:token|tokens}. {photos} {photos:photo|photos} came along from the first training; send more (or better) ones. «{name}» keeps working until the new version is ready and takes its place.",
        history_line: "• {date}: {prompt} — {status}, {images} {images:image|images}",

        referral: "🎁 <b>Invite friends</b>\n\nYour link: {link}\n\n\
            When a friend buys tokens for the first time, you get {bonus} {bonus:token|tokens}.\n\
            Joined: {joined}, paid: {paid}, earned: {earned} {earned:token|tokens}.",

        erase_done: "✅ Your data is deleted. Payments and the token history are kept by your id only; \
            your balance: <b>{balance}</b> {balance:token|tokens}. To start again: /start",

        train_ask_photos: "Great, model “{name}”. Now send {min} to {max} photos of yourself: \
            face clearly visible, different angles and light, nobody else in the frame. Albums are fine.",
        photos_missing: "📥 Photos received: <b>{count}</b> of {min}–{max}. Send {missing} more.",
        photos_enough: "📥 Photos received: <b>{count}</b> (up to {max}). Ready to train — it costs {cost} {cost:token|tokens}.",
        photos_full: "That makes {max} photos, the maximum. Extra photos were not added.",
        button_start_training: "🚀 Start training ({cost} {cost:token|tokens})",
        photo_to_replace: "• photo {number}: {reason}",
        photos_replace_more: "…and {more} {more:photo|photos} before them",
        problem_too_small: "too small: under {min} px on its short side",
        too_few_photos: "Only {count} {count:photo|photos} so far; at least {min} are needed. Send more.",
        not_enough_tokens: "Not enough tokens: {required} needed, you have {available}. Top up: /buy",

        pick_style: "🎨 Styles{tag}: page {page} of {pages}. Pick one:",
        quote: "“{text}”",
        ask_prompt: "✍️ Describe the photo you want (up to {max} characters), or pick a preset.",
        bad_prompt: "The description must be 1 to {max} characters.",
        choose_count: "How many photos? Each one costs {price} {price:token|tokens}.",
        button_count: "{images} — {cost} {cost:token|tokens}",

        button_pack: "{tokens} {tokens:token|tokens} — {price}",
        discount_note: "Your {percent}% discount is applied to these prices.",
        promo_tokens: "🎉 Promo code accepted: +{tokens} {tokens:token|tokens}. Balance: {balance}.",
        promo_discount: "🎉 Promo code accepted: {percent}% off your next purchase. Choose a pack: /buy",
        promo_too_many_attempts: "Too many promo code attempts. Try again in {minutes} {minutes:minute|minutes}.",

        admin_done: "✅ Done: {what}",
        tokens_delta: "{delta} {delta:token|tokens}",
        button_style_enable: "▶️ Enable “{name}”",
        button_style_disable: "⏸ Disable “{name}”",
        user_joined: "Joined: {date}",
        funnel_days: "{days} {days:day|days}",
        gives_tokens: "{tokens} {tokens:token|tokens}",
        gives_discount: "{percent}% off",
        chart_caption: "📈 In {days} {days:day|days}: {users} new {users:user|users}, \
            {generations} {generations:generation|generations}, revenue {revenue}.",
        admin_refund_done: "↩️ Payment #{payment_id} refunded: {tokens} {tokens:token|tokens} taken back; the user's balance is {balance}. They were told.",
        admin_refund_pending: "⏳ Payment #{payment_id}: {tokens} {tokens:token|tokens} taken back; Telegram has not confirmed the refund yet and is asked again until it does.",
        admin_refund_refused: "⚠️ Telegram refused to refund payment #{payment_id}: {error}. The tokens are back with the user; the payment stands.",
        admin_refund_spent: "⚠️ Not refunded: the payment bought {tokens} {tokens:token|tokens}, but the user has only {balance} left (the rest is spent). Nothing changed.",
        admin_refund_not_stars: "⚠️ Not refunded: this payment was in {currency}; only Telegram Stars payments can be refunded here.",
    },
    photo_problems: PhotoProblemLabels {
        unreadable: "we could not open it",
        no_face: "no face found: your face should be clearly visible, looking at the camera",
        several_faces: "more than one face: only you should be in the photo",
        face_too_small: "the face is too small: come closer or crop the photo",
        blurred: "blurred: the face is not sharp",
        duplicate: "nearly the same as another of your photos",
    },
    model_statuses: ModelStatusLabels {
        draft: "📝 draft",
        queued: "⏳ queued",
        training: "🔄 training",
        ready: "✅ ready",
        failed: "❌ failed",
        canceled: "🚫 canceled",
    },
    generation_statuses: GenerationStatusLabels {
        in_progress: "in progress",
        succeeded: "done",
        failed: "failed",
        canceled: "canceled",
    },
    promo_refusals: PromoRefusals {
        unknown: "There is no such promo code.",
        expired: "This promo code has expired.",
        exhausted: "This promo code has been used up.",
        already_used: "You have already used this promo code.",
    },
    reports: Labels {
        statistics: "Statistics",
        users: "Users",
        today: "today",
        last_7_days: "7 days",
        paying: "Paying",
        revenue: "Revenue",
        tokens_sold: "Tokens sold",
        spent: "spent",
        models: "Models",
        generations_today: "Generations today",
        economics: "Revenue against Replicate's costs (USD)",
        all_time: "all time",
        cost: "cost",
        margin: "margin",
        jobs: "job|jobs",

        funnel: "Funnel",
        funnel_steps: "(started → trained → generated → paid)",
        ratings_by_style: "Ratings by style",
        ratings: "rating|ratings",
        no_style: "no style",
        low_ratings: "Low ratings",

        language: "Language",
        balance: "Balance",
        blocked: "Blocked",
        yes: "yes",
        no: "no",
        payments: "Payments",
        tokens: "token|tokens",

        recent_models: "Recent models",
        failed_models: "Failed",

        recent_payments: "Recent payments",
        total: "Total",
        payment_count: "payment|payments",

        styles: "Styles",
        on: "on",
        off: "off",
        add_style: "Add: /admin_styles add Name | description | template with {prompt}",

        admins: "Admins",
        owner: "owner",
        added_by: "added by",
        change_admins: "/admin_add id — add, /admin_remove id — remove",

        audit_log: "Audit log",

        promo_codes: "Promo codes",
        used: "used",
        until: "until",

        chart_title: "Dream Photo: the last 30 days",
        chart_new_users: "New users",
        chart_generations: "Generations",
        chart_revenue: "Revenue",
    },
};
