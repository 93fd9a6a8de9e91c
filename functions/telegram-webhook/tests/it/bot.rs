//! Every flow of the bot, driven with real Update JSON against the fake Bot API on real Postgres.

use crate::app::{last_buttons, App};
use axum::http::StatusCode;
use serde_json::Value;
use shared::domain::status::ModelStatus;
use shared::repo::{generations, ledger, models, payments, users, Page};
use testkit::stored;
use testkit::updates::{self, TgUser};
use testkit::{fixtures, ADMIN_ID, WEBHOOK_SECRET};

/// Ann (user 1) starts the bot; Bob (user 2) starts it with her referral code, which is returned.
async fn bob_joins_through_ann(app: &App) -> (TgUser, TgUser, String) {
    let ann = TgUser::new(1, "Ann");
    let bob = TgUser::new(2, "Bob");
    app.send(&updates::text(1, &ann, "/start")).await;
    let code = app.user(1).await.unwrap().referral_code;
    app.send(&updates::text(2, &bob, &format!("/start {code}")))
        .await;
    (ann, bob, code)
}

#[tokio::test]
async fn start_with_a_referral_code_records_the_invite_once() {
    let app = App::spawn().await;
    let (ann, bob, code) = bob_joins_through_ann(&app).await;
    assert_eq!(app.user(2).await.unwrap().referred_by, Some(1));
    assert!(
        app.last_text(1).contains("Bob joined"),
        "the referrer hears about it"
    );
    // Not twice, not for oneself, not for an existing user.
    app.send(&updates::text(3, &bob, &format!("/start {code}")))
        .await;
    app.send(&updates::text(4, &ann, &format!("/start {code}")))
        .await;
    let conn = app.env.db().conn().await.unwrap();
    let stats = shared::repo::referrals::statistics(&**conn, 1)
        .await
        .unwrap();
    assert_eq!(stats.joined, 1);
    assert_eq!(app.user(1).await.unwrap().referred_by, None);
    // Someone with us for a day is not referred; someone whose first update came minutes ago (say,
    // a /start that failed after registering them and is now delivered again) is.
    let (carl, dan) = (TgUser::new(3, "Carl"), TgUser::new(4, "Dan"));
    app.send(&updates::text(20, &carl, "/help")).await;
    app.send(&updates::text(21, &dan, "/help")).await;
    conn.execute(
        "UPDATE users SET activated_at = now() - interval '1 day' WHERE id = 3",
        &[],
    )
    .await
    .unwrap();
    app.send(&updates::text(22, &carl, &format!("/start {code}")))
        .await;
    app.send(&updates::text(23, &dan, &format!("/start {code}")))
        .await;
    assert_eq!(app.user(3).await.unwrap().referred_by, None);
    assert_eq!(app.user(4).await.unwrap().referred_by, Some(1));

    app.send(&updates::text(5, &bob, "/referral")).await;
    let calls = app.env.telegram.calls();
    assert!(calls.iter().any(|c| c.method == "getMe"), "{calls:?}");
    assert!(app
        .last_text(2)
        .contains(&format!("https://t.me/{}?start=", testkit::BOT_USERNAME)));
    // Admins hear about new users.
    assert!(app
        .env
        .telegram
        .sent_to(ADMIN_ID)
        .iter()
        .any(|c| c.text().contains("@bob")));
}

#[tokio::test]
async fn balance_models_history_help_cancel_and_menu_buttons_answer() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    assert!(app
        .says(2, &ann, "/balance")
        .await
        .contains("Balance: <b>0</b>"));
    assert!(app.says(3, &ann, "/models").await.contains("no models"));
    assert!(app
        .says(4, &ann, "/history")
        .await
        .contains("No generations"));
    app.send(&updates::text(5, &ann, "💰 Balance")).await;
    assert!(
        app.last_text(1).contains("Balance"),
        "the menu button works like /balance"
    );
    app.send(&updates::text(6, &ann, "/train")).await;
    assert!(app.says(7, &ann, "/cancel").await.contains("cancelled"));
    app.send(&updates::text(8, &ann, "hello")).await;
    assert!(
        app.last_text(1).contains("don't know"),
        "after /cancel, text is not a model name"
    );
}

#[tokio::test]
async fn a_blocked_user_gets_one_clear_message_and_nothing_happens() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    let conn = app.env.db().conn().await.unwrap();
    users::set_blocked(&**conn, 1, true).await.unwrap();
    app.env.telegram.clear();
    app.send(&updates::text(2, &ann, "/train")).await;
    let sent = app.env.telegram.sent_to(1);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text().contains("blocked"));
    assert_eq!(app.user(1).await.unwrap().dialog["state"], "idle");
}

#[tokio::test]
async fn steps_that_move_the_dialog_on_answer_in_the_webhook_response_while_the_bot_api_is_down() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 500).await;
    app.send(&updates::text(1, &ann, "/train")).await;
    // The Bot API is down from here on: each step's answer rides in the webhook's response, so no
    // failed send leaves a redelivered step to a dialog that has moved on.
    for _ in 0..5 {
        app.env.telegram.outage_next("sendMessage");
    }
    let step = async |update: Value| {
        // Telegram carries out the method in the response itself (not through the Bot API).
        let answer = app.post_unanswered(&update).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body["method"], "sendMessage");
        answer.body["text"].as_str().unwrap_or_default().to_owned()
    };
    let asked = step(updates::text(2, &ann, "My face")).await;
    assert!(asked.contains("photos"), "{asked}");
    assert_eq!(
        app.user(1).await.unwrap().dialog["state"],
        "collecting_photos"
    );

    let asked = step(updates::callback(3, &ann, &format!("g:{}", model.id))).await;
    assert!(asked.contains("500"), "the prompt asked for: {asked}");
    let asked = step(updates::text(4, &ann, "on a beach")).await;
    assert!(asked.contains("tokens"), "the count asked for: {asked}");
    assert_eq!(app.user(1).await.unwrap().dialog["state"], "choosing_count");
}

#[tokio::test]
async fn a_count_left_under_an_older_prompt_does_not_pay_for_the_newer_one() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    let generate = format!("g:{}", model.id);
    app.press(1, &ann, &generate).await;
    app.send(&updates::text(2, &ann, "in a red hat")).await;
    let for_the_hat = last_buttons(&app, 1);
    // Ann starts over with another prompt; the first keyboard is still on screen.
    app.press(3, &ann, &generate).await;
    app.send(&updates::text(4, &ann, "on a beach")).await;
    let for_the_beach = last_buttons(&app, 1);
    assert_ne!(for_the_hat[0].1, for_the_beach[0].1);

    app.press(5, &ann, &for_the_hat[0].1).await;
    assert!(
        app.last_text(1).contains("out of date"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100, "nothing paid");
    app.press(6, &ann, &for_the_beach[0].1).await;
    let conn = app.env.db().conn().await.unwrap();
    let made = generations::list_for_user(&**conn, 1, Page::first(5))
        .await
        .unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].prompt, "on a beach");
}

#[tokio::test]
async fn an_album_of_twelve_posted_concurrently_stores_twelve_photos_and_one_status_message() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 500).await;
    app.send(&updates::text(1, &ann, "/train")).await;
    assert!(app.says(2, &ann, "My face").await.contains("My face"));
    app.env.telegram.clear();

    let album: Vec<Value> = (0..12)
        .map(|i| updates::photo(100 + i, &ann, &format!("photo-{i}"), Some("album-1")))
        .collect();
    let posts = album
        .iter()
        .enumerate()
        .map(|(i, u)| app.post_to(i, u, Some(WEBHOOK_SECRET)));
    let results = futures::future::join_all(posts).await;
    assert!(results.iter().all(|(s, _)| s.is_success()), "{results:?}");
    // A duplicate of one photo (same file_unique_id) counts once.
    app.send(&updates::photo(200, &ann, "photo-3", None)).await;

    let conn = app.env.db().conn().await.unwrap();
    let model = &models::list_for_user(&**conn, 1, Page::first(5))
        .await
        .unwrap()[0];
    assert_eq!(model.photo_count, 12);
    assert_eq!(stored::photos(app.env.db(), model.id).await.len(), 12);
    let new_messages = app.env.telegram.calls_of("sendMessage");
    assert_eq!(
        new_messages.len(),
        1,
        "one status message, edited as the count grows: {new_messages:?}"
    );
    let last = app.last_text(1);
    assert!(last.contains("<b>12</b>"), "{last}");
    assert_eq!(
        last_buttons(&app, 1),
        vec![(
            "🚀 Start training (100 tokens)".to_owned(),
            format!("t:{}", model.id)
        )]
    );
}

/// `from` begins a training with /train (update 1), names it `name` (update 2) and sends `photos`
/// photos one by one (updates 10, 11, …; files `p0`, `p1`, …).
async fn send_a_draft(app: &App, from: &TgUser, name: &str, photos: i64) {
    app.send(&updates::text(1, from, "/train")).await;
    app.send(&updates::text(2, from, name)).await;
    for i in 0..photos {
        app.send(&updates::photo(10 + i, from, &format!("p{i}"), None))
            .await;
    }
}

#[tokio::test]
async fn start_training_debits_queues_and_explains_what_happens_next() {
    let mut app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 150).await;
    send_a_draft(&app, &ann, "Me", 9).await;
    assert!(app.last_text(1).contains("Send 1 more"));
    let model = app.newest_model(1).await;
    // Too few photos: a clear message and nothing debited.
    app.press(30, &ann, &format!("t:{}", model.id)).await;
    assert!(app.last_text(1).contains("at least 10"));
    assert_eq!(app.user(1).await.unwrap().tokens_left, 150);

    app.send(&updates::photo(31, &ann, "p9", None)).await;
    // A non-image document and a file over the limit: clear messages, nothing added.
    app.send(&updates::document(
        32,
        &ann,
        "doc-1",
        "application/pdf",
        1000,
    ))
    .await;
    assert!(app.last_text(1).contains("not a photo"));
    app.send(&updates::document(
        33,
        &ann,
        "doc-2",
        "image/png",
        30 * 1024 * 1024,
    ))
    .await;
    assert!(app.last_text(1).contains("larger than 20 MB"));

    app.press(34, &ann, &format!("t:{}", model.id)).await;
    assert!(app.last_text(1).contains("has started"));
    assert_eq!(app.user(1).await.unwrap().tokens_left, 50);
    let queued = stored::model(app.env.db(), model.id).await;
    assert_eq!(queued.status, ModelStatus::Queued);
    assert_eq!(queued.photo_count, 10);
    assert_eq!(app.jobs.try_recv().unwrap().model_id, model.id);
    // A double click queues once and debits once.
    app.press(35, &ann, &format!("t:{}", model.id)).await;
    assert!(app.jobs.try_recv().is_err());
    assert_eq!(stored::balance(app.env.db(), 1).await, 50);
}

#[tokio::test]
async fn not_enough_tokens_for_training_offers_to_buy_and_debits_nothing() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 10).await;
    send_a_draft(&app, &ann, "Me", 10).await;
    let model = app.newest_model(1).await;
    app.press(30, &ann, &format!("t:{}", model.id)).await;
    assert!(app
        .last_text(1)
        .contains("Not enough tokens: 100 needed, you have 10"));
    assert_eq!(
        last_buttons(&app, 1),
        vec![("🛒 Buy tokens".to_owned(), "packs".to_owned())]
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 10);
    assert_eq!(
        stored::model(app.env.db(), model.id).await.status,
        ModelStatus::Draft
    );
}

#[tokio::test]
async fn generation_goes_style_prompt_count_then_replicate_with_our_trigger_word() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    let noir = fixtures::noir(shared::repo::styles::NewStyle {
        lora_url: Some("https://example.com/noir.safetensors".into()),
        lora_scale: 0.8,
        trigger_word: Some("NOIRSTYLE".into()),
        ..Default::default()
    });
    let style = fixtures::style(app.env.db(), noir).await;
    let conn = app.env.db().conn().await.unwrap();

    app.press(1, &ann, &format!("g:{}", model.id)).await;
    assert!(last_buttons(&app, 1).contains(&("Noir".to_owned(), format!("s:{}", style.id))));
    app.press(2, &ann, &format!("s:{}", style.id)).await;
    assert!(app.last_text(1).contains("Describe the photo"));
    app.send(&updates::text(3, &ann, &"x".repeat(501))).await;
    assert!(app.last_text(1).contains("1 to 500 characters"));
    app.send(&updates::text(4, &ann, "DPTEST in a hat")).await;
    assert_eq!(last_buttons(&app, 1).len(), 4, "1 to 4 images");
    // A double press (two updates at once) starts and charges one generation.
    let (first, second) = (
        updates::callback(5, &ann, "n:3"),
        updates::callback(50, &ann, "n:3"),
    );
    tokio::join!(app.send(&first), app.send(&second));
    let texts = app.texts(1);
    assert_eq!(
        texts.iter().filter(|t| t.contains("Creating 3")).count(),
        1,
        "{texts:?}"
    );

    assert_eq!(app.user(1).await.unwrap().tokens_left, 85);
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions.len(), 1);
    let prediction = &predictions[0];
    assert_eq!(prediction.input("num_outputs"), 3);
    let prompt = prediction.input("prompt").as_str().unwrap();
    assert!(
        prompt.starts_with("photo of DPTEST person, NOIRSTYLE style, film noir, in a hat"),
        "{prompt}"
    );
    assert_eq!(prompt.matches("DPTEST").count(), 1);
    assert_eq!(
        prediction.input("extra_lora"),
        "https://example.com/noir.safetensors"
    );
    // Our webhook URL, tagged with the generation's attempt.
    assert!(prediction
        .webhook()
        .starts_with("https://dream.example.com/replicate/webhook?attempt="));
    let list = generations::list_for_user(&**conn, 1, Page::first(5))
        .await
        .unwrap();
    assert_eq!(list[0].cost_tokens, 15);
    assert!(list[0].replicate_prediction_id.is_some());

    // An old button after the dialogue moved on does nothing.
    app.press(6, &ann, "n:2").await;
    assert!(app.last_text(1).contains("out of date"));
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 1);
}

#[tokio::test]
async fn a_prompt_on_the_block_list_is_refused_as_it_is_typed_and_nothing_is_paid() {
    let app = App::spawn_with_var("PROMPT_BLOCK_LIST", Some("nude, naked child")).await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    app.press(1, &ann, &format!("g:{}", model.id)).await;
    assert!(app.last_text(1).contains("Describe the photo"));
    app.send(&updates::text(2, &ann, "me, Nude, on a beach"))
        .await;
    assert!(app.last_text(1).contains("nothing was charged"));
    // Still asked for a prompt: another one goes on to the count.
    app.send(&updates::text(3, &ann, "me on a beach")).await;
    assert_eq!(last_buttons(&app, 1).len(), 4, "1 to 4 images");
    app.press(4, &ann, "n:1").await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 95);
    let predictions = app.env.replicate.calls_to("POST", "/predictions");
    assert_eq!(predictions.len(), 1);
    let prompt = predictions[0].input("prompt").as_str().unwrap().to_owned();
    assert!(
        prompt.contains("on a beach") && !prompt.contains("Nude"),
        "{prompt}"
    );
}

/// Ann (user 1, 100 tokens, a ready model) picked her model and asked for "me on a beach": the
/// count picker is next.
async fn ann_asked_for_me_on_a_beach(app: &App) -> TgUser {
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    app.press(1, &ann, &format!("g:{}", model.id)).await;
    app.send(&updates::text(2, &ann, "me on a beach")).await;
    ann
}

#[tokio::test]
async fn a_generation_replicate_refuses_as_unsafe_is_refunded_and_said_plainly() {
    let app = App::spawn().await;
    let ann = ann_asked_for_me_on_a_beach(&app).await;
    app.env
        .replicate
        .fail_next("/predictions", 422, "NSFW content detected");
    app.press(3, &ann, "n:2").await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100, "refunded");
    let told = app.last_text(1);
    assert!(told.contains("safety filter"), "{told}");
    assert!(told.contains("10 tokens are back"), "{told}");
}

#[tokio::test]
async fn generation_without_tokens_offers_to_buy_and_a_refused_prediction_refunds() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 7).await;
    app.press(1, &ann, &format!("g:{}", model.id)).await;
    app.press(2, &ann, "p:0").await;
    app.press(3, &ann, "n:2").await;
    assert!(app
        .last_text(1)
        .contains("Not enough tokens: 10 needed, you have 7"));
    assert_eq!(app.user(1).await.unwrap().tokens_left, 7);

    app.env
        .replicate
        .fail_next("/predictions", 422, "invalid version");
    app.press(4, &ann, "n:1").await;
    assert_eq!(
        app.user(1).await.unwrap().tokens_left,
        7,
        "refunded at once"
    );
    let told = app.texts(1);
    assert!(app.last_text(1).contains("tokens are back"), "{told:?}");
    assert_eq!(
        told.iter()
            .filter(|t| t.contains("tokens are back") || t.contains("could not start"))
            .count(),
        1,
        "told once: {told:?}"
    );
}

#[tokio::test]
async fn buying_tokens_in_stars_credits_once_even_when_delivered_twice_concurrently() {
    let app = App::spawn().await;
    let (_, bob, _) = bob_joins_through_ann(&app).await;

    app.send(&updates::text(3, &bob, "/buy")).await;
    assert_eq!(
        last_buttons(&app, 2)[0],
        ("100 tokens — 150 ⭐".to_owned(), "b:small".to_owned())
    );
    let invoice = app.invoice_for(4, &bob, "small").await;
    assert_eq!(invoice.currency, "XTR");
    assert_eq!(invoice.amount(), 150);
    assert_eq!(invoice.payload, "pack:small:100:150");
    assert!(invoice.provider_token.unwrap_or_default().is_empty());

    app.send(&updates::pre_checkout(5, &bob, "XTR", 150, "pack:small"))
        .await;
    let answer = app.pre_checkout_answer();
    assert!(answer.ok);
    app.send(&updates::pre_checkout(6, &bob, "XTR", 1, "pack:small"))
        .await;
    let answer = app.pre_checkout_answer();
    assert!(!answer.ok, "a price that is not ours is refused");

    // The same payment, delivered twice at once (two update ids, two Lambdas), and once more later.
    let paid_a = updates::successful_payment(7, &bob, "XTR", 150, "pack:small", "charge-1");
    let paid_b = updates::successful_payment(8, &bob, "XTR", 150, "pack:small", "charge-1");
    let (a, b) = tokio::join!(
        app.post_to(1, &paid_a, Some(WEBHOOK_SECRET)),
        app.post_to(2, &paid_b, Some(WEBHOOK_SECRET))
    );
    assert!(a.0.is_success() && b.0.is_success());
    app.send(&updates::successful_payment(
        9,
        &bob,
        "XTR",
        150,
        "pack:small",
        "charge-1",
    ))
    .await;

    let conn = app.env.db().conn().await.unwrap();
    assert_eq!(
        payments::list_for_user(&**conn, 2, Page::first(10))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.user(2).await.unwrap().tokens_left, 100);
    assert_eq!(ledger::sum(&**conn, 2).await.unwrap(), 100);
    assert!(app.last_text(2).contains("+100 tokens"));
    // The referrer got the bonus once, on the first payment.
    assert_eq!(app.user(1).await.unwrap().tokens_left, 30);
    app.send(&updates::successful_payment(
        10,
        &bob,
        "XTR",
        150,
        "pack:small",
        "charge-2",
    ))
    .await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 30);
    assert_eq!(app.user(2).await.unwrap().tokens_left, 200);
    // Admins are told of each payment.
    assert_eq!(
        app.env
            .telegram
            .sent_to(ADMIN_ID)
            .iter()
            .filter(|c| c.text().contains("Оплата"))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_blocked_user_cannot_pay() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    users::set_blocked(&**app.env.db().conn().await.unwrap(), 1, true)
        .await
        .unwrap();
    app.send(&updates::pre_checkout(2, &ann, "XTR", 150, "pack:small"))
        .await;
    let answer = app.pre_checkout_answer();
    assert!(!answer.ok);
    assert!(answer.error_message.unwrap().contains("blocked"));
}

#[tokio::test]
async fn a_non_admin_gets_no_admin_data() {
    let app = App::spawn().await;
    let eve = TgUser::new(66, "Eve");
    for (i, command) in [
        "/admin_stats",
        "/admin_users 1",
        "/admin_payments",
        "/admin_models",
        "/admin_styles",
    ]
    .iter()
    .enumerate()
    {
        app.send(&updates::text(i as i64 + 1, &eve, command)).await;
        assert!(
            app.last_text(66).contains("don't know that command"),
            "{command}"
        );
    }
    app.press(10, &eve, "at:66:1000").await;
    assert_eq!(app.user(66).await.unwrap().tokens_left, 0);
}

#[tokio::test]
async fn admins_see_stats_manage_users_tokens_and_styles() {
    let app = App::spawn().await;
    let admin = TgUser::new(ADMIN_ID, "Boss");
    app.started(1, TgUser::new(1, "Ann")).await;
    app.send(&updates::text(2, &admin, "/admin_stats")).await;
    let stats = app.last_text(ADMIN_ID);
    assert!(stats.contains("Users: 2"), "{stats}");

    assert!(app
        .says(3, &admin, "/admin_users @ann")
        .await
        .contains("(id 1)"));
    app.press(4, &admin, "at:1:100").await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    app.press(5, &admin, "at:1:-500").await;
    assert!(app.last_text(ADMIN_ID).contains("Not enough tokens"));
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    let conn = app.env.db().conn().await.unwrap();
    let entries = ledger::entries(&**conn, 1, Page::first(5)).await.unwrap();
    assert_eq!(entries[0].reason, shared::repo::ledger::Reason::Admin);

    app.press(6, &admin, "ab:1:1").await;
    assert!(app.user(1).await.unwrap().is_blocked);
    app.press(7, &admin, "ab:1:0").await;
    assert!(!app.user(1).await.unwrap().is_blocked);

    app.send(&updates::text(
        8,
        &admin,
        "/admin_styles add Noir | Black and white | film noir, {prompt}",
    ))
    .await;
    assert!(app.says(9, &admin, "/admin_styles").await.contains("Noir"));
    let style = app.styles(true).await.remove(0);
    app.press(10, &admin, &format!("as:{}:0", style.id)).await;
    assert!(app.styles(false).await.is_empty());
    app.send(&updates::text(11, &admin, "/admin_models")).await;
    assert!(app
        .says(12, &admin, "/admin_payments")
        .await
        .contains("Recent payments"));
}

#[tokio::test]
async fn an_admins_grant_delivered_again_after_it_committed_is_granted_once() {
    let app = App::spawn().await;
    let admin = TgUser::new(ADMIN_ID, "Boss");
    app.started(1, TgUser::new(1, "Ann")).await;
    // The grant commits; recording the press as handled fails (the connection drops), so Telegram
    // delivers it again, and the next delivery takes it over once the claim's lease has run out.
    fixtures::fail_first_updates(app.env.db(), "processed_updates", "NEW.status = 'done'", 10)
        .await;
    let press = updates::callback(4, &admin, "at:1:100");
    let (status, _) = app.post(&press, Some(WEBHOOK_SECRET)).await;
    assert!(!status.is_success(), "{status}");
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    let conn = app.env.db().conn().await.unwrap();
    conn.batch_execute(
        "DROP TRIGGER fail_first_update_processed_updates ON processed_updates;
         UPDATE processed_updates SET claimed_at = now() - interval '3 minutes' WHERE update_id = 4",
    )
    .await
    .unwrap();
    app.send(&press).await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100, "granted once");
    assert!(
        app.last_text(ADMIN_ID).contains("→ 100"),
        "{}",
        app.last_text(ADMIN_ID)
    );
    let entries = ledger::entries(&**conn, 1, Page::first(5)).await.unwrap();
    let grants = entries.iter().filter(|e| e.reason == ledger::Reason::Admin);
    assert_eq!(grants.count(), 1);
}

#[tokio::test]
async fn admins_see_what_each_period_and_each_user_cost_against_what_they_paid() {
    let app = App::spawn().await;
    let admin = TgUser::new(ADMIN_ID, "Boss");
    app.started(1, TgUser::new(1, "Ann")).await;
    // Ann paid 150 stars ($1.95 at the default rate); one of her jobs ran 100 s at $0.01 a second.
    fixtures::small_pack_paid(app.env.db(), 1, "ch_1").await;
    let cost = shared::repo::costs::JobCost {
        replicate_id: "pr_1",
        user_id: 1,
        kind: shared::repo::costs::CostKind::Generation,
        model_id: None,
        generation_id: None,
        hardware: "gpu-l40s",
        seconds: 100.0,
        usd_per_second: 0.01,
    };
    let rates = shared::repo::costs::UsdRates::new(&app.env.config().costs.usd_rates);
    shared::repo::costs::record(&**app.env.db().conn().await.unwrap(), &cost, &rates)
        .await
        .unwrap();

    let stats = app.says(2, &admin, "/admin_stats").await;
    assert!(
        stats.contains("Revenue against Replicate's costs (USD)"),
        "{stats}"
    );
    for period in ["today", "7 days", "30 days", "all time"] {
        let line = format!("{period}: revenue $1.95 − cost $1.00 = margin $0.95 (1 job)");
        assert!(stats.contains(&line), "{line} in {stats}");
    }
    let card = app.says(3, &admin, "/admin_users 1").await;
    assert!(
        card.contains("revenue $1.95 − cost $1.00 = margin $0.95 (1 job)"),
        "{card}"
    );
    // Someone who costs more than they paid shows a negative margin.
    let free_rider = shared::repo::costs::JobCost {
        replicate_id: "pr_2",
        user_id: ADMIN_ID,
        seconds: 50.0,
        ..cost
    };
    shared::repo::costs::record(&**app.env.db().conn().await.unwrap(), &free_rider, &rates)
        .await
        .unwrap();
    let card = app
        .says(4, &admin, &format!("/admin_users {ADMIN_ID}"))
        .await;
    assert!(
        card.contains("revenue $0.00 − cost $0.50 = margin −$0.50 (1 job)"),
        "{card}"
    );
}

#[tokio::test]
async fn telegram_rate_limits_are_waited_out_and_blocked_users_are_marked() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    app.env.telegram.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 1",
        Some(1),
    );
    // /train answers through the Bot API (a /start welcome rides in the webhook response).
    app.send(&updates::text(1, &ann, "/train")).await;
    assert_eq!(
        app.env.telegram.sent_to(1).len(),
        2,
        "retried after retry_after"
    );

    app.env.telegram.fail_next(
        "sendMessage",
        403,
        "Forbidden: bot was blocked by the user",
        None,
    );
    app.send(&updates::text(2, &ann, "/train")).await;
    assert!(app.user(1).await.unwrap().bot_blocked);
    // Writing to the bot again means they unblocked it.
    app.send(&updates::text(3, &ann, "/help")).await;
    assert!(!app.user(1).await.unwrap().bot_blocked);
}

#[tokio::test]
async fn a_provider_currency_invoice_carries_the_provider_token_and_kopecks() {
    let mut env = testkit::TestEnv::start().await;
    env.set("PAYMENT_CURRENCY", Some("RUB"));
    env.set("PAYMENT_PROVIDER_TOKEN", Some("381764678:TEST:provider"));
    env.set("TOKEN_PACKS", Some("starter:50:49900"));
    let app = App::with_env(env);
    let ann = TgUser::new(1, "Ann").russian();
    app.send(&updates::text(1, &ann, "/buy")).await;
    assert_eq!(
        last_buttons(&app, 1)[0],
        ("50 токенов — 499.00 RUB".to_owned(), "b:starter".to_owned())
    );
    let invoice = app.invoice_for(2, &ann, "starter").await;
    assert_eq!(invoice.currency, "RUB");
    assert_eq!(
        invoice.provider_token.as_deref(),
        Some("381764678:TEST:provider")
    );
    assert_eq!(invoice.amount(), 49900);
    app.send(&updates::pre_checkout(
        3,
        &ann,
        "RUB",
        49900,
        "pack:starter",
    ))
    .await;
    assert!(app.pre_checkout_answer().ok);
    app.send(&updates::successful_payment(
        4,
        &ann,
        "RUB",
        49900,
        "pack:starter",
        "ch-rub-1",
    ))
    .await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 50);
    assert!(app.last_text(1).contains("+50"));
}

#[tokio::test]
async fn a_payment_whose_handler_died_after_claiming_it_is_credited_on_redelivery() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    let paid = updates::successful_payment(2, &ann, "XTR", 150, "pack:small:100:150", "ch-1");
    // An invocation claimed the update, then died (a Lambda timeout while the database stalled).
    shared::repo::deliveries::claim(
        &**app.env.db().conn().await.unwrap(),
        shared::repo::deliveries::Delivery::TelegramUpdate(2),
    )
    .await
    .unwrap();

    // Telegram's redelivery while that claim still looks alive is told to come back: not "done".
    assert_eq!(
        app.post(&paid, Some(WEBHOOK_SECRET)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 0);

    // Once the dead handler's lease ran out, the next redelivery takes it over and credits it.
    fixtures::expire_update_claim(app.env.db(), 2).await;
    assert_eq!(app.send(&paid).await, StatusCode::OK);
    assert_eq!(app.send(&paid).await, StatusCode::OK);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    let thanks: Vec<_> = app
        .texts(1)
        .into_iter()
        .filter(|t| t.contains("+100 tokens"))
        .collect();
    assert_eq!(thanks.len(), 1, "{thanks:?}");
}

#[tokio::test]
async fn the_payment_thanks_survives_telegram_failing_and_is_sent_once() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    // Telegram asks us to wait longer than an invocation sits out.
    app.env.telegram.fail_next(
        "sendMessage",
        429,
        "Too Many Requests: retry after 40",
        Some(40),
    );
    let paid = updates::successful_payment(2, &ann, "XTR", 150, "pack:small:100:150", "ch-1");
    assert_eq!(app.send(&paid).await, StatusCode::OK);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    assert!(!app
        .env
        .telegram
        .sent_to(1)
        .iter()
        .any(|c| c.answered_ok() && c.text().contains("+100 tokens")));
    let waiting = fixtures::unsettled_effects(app.env.db()).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].dedupe_key, "payment:ch-1");

    // A redelivered payment does not write it again; the sweep sends it once it is due.
    assert_eq!(app.send(&paid).await, StatusCode::OK);
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    let drained = shared::dispatch::drain(&services, 100).await.unwrap();
    assert_eq!(drained.done, 1);
    shared::dispatch::drain(&services, 100).await.unwrap();
    let thanks: Vec<_> = app
        .env
        .telegram
        .sent_to(1)
        .into_iter()
        .filter(|c| c.answered_ok() && c.text().contains("+100 tokens"))
        .collect();
    assert_eq!(thanks.len(), 1);
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());
}

#[tokio::test]
async fn a_payment_for_a_pack_no_longer_sold_is_recorded_and_credited_as_invoiced() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;

    // The invoice said 500 tokens for 900 stars; the pack was removed before the payment came.
    let paid = updates::successful_payment(2, &ann, "XTR", 900, "pack:gone:500:900", "ch-1");
    assert_eq!(app.send(&paid).await, StatusCode::OK);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 500);
    // An invoice from before payloads said what they sold: the money is recorded, nothing guessed.
    let old = updates::successful_payment(3, &ann, "XTR", 300, "pack:old", "ch-2");
    assert_eq!(app.send(&old).await, StatusCode::OK);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 500);

    let conn = app.env.db().conn().await.unwrap();
    let recorded = payments::list_for_user(&**conn, 1, Page::first(10))
        .await
        .unwrap();
    let mut amounts: Vec<_> = recorded
        .iter()
        .map(|p| (p.pack_id.as_str(), p.amount, p.tokens))
        .collect();
    amounts.sort();
    assert_eq!(amounts, vec![("gone", 900, 500), ("old", 300, 0)]);
    let to_admins: Vec<_> = app
        .env
        .telegram
        .sent_to(ADMIN_ID)
        .into_iter()
        .map(|c| c.text().to_owned())
        .filter(|t| t.contains("больше нет в продаже"))
        .collect();
    assert_eq!(to_admins.len(), 2, "{to_admins:?}");
    assert!(to_admins.iter().any(|t| t.contains("начислено 500")));
    assert!(to_admins.iter().any(|t| t.contains("ничего не начислено")));
}

#[tokio::test]
async fn delete_me_explains_asks_and_erases_only_when_confirmed() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    let replicate_url = app.env.replicate.url();
    let account = fixtures::account_with_everything(app.env.db(), 1, &replicate_url).await;
    app.send(&updates::text(1, &ann, "/start")).await;
    let balance = app.user(1).await.unwrap().tokens_left;

    app.send(&updates::text(2, &ann, "/delete_me")).await;
    let explained = app.last_text(1);
    assert!(explained.contains("Delete my data"), "{explained}");
    assert!(explained.contains("payments"), "it says what is kept");
    let buttons = last_buttons(&app, 1);
    assert_eq!(buttons.len(), 2, "{buttons:?}");
    assert_eq!(buttons[0].1, "em:1");
    assert_eq!(buttons[1].1, "em:0");

    // Cancel: nothing changes.
    app.send(&updates::callback(3, &ann, &buttons[1].1)).await;
    assert!(app.last_text(1).contains("nothing was deleted"));
    assert_eq!(
        stored::photos(app.env.db(), account.ready.id).await.len(),
        11
    );
    assert_eq!(app.user(1).await.unwrap().first_name, "Ann");
    assert!(app.env.replicate.calls_to("DELETE", "/").is_empty());

    // Confirm: erased, and said so.
    app.send(&updates::callback(4, &ann, &buttons[0].1)).await;
    assert!(
        app.last_text(1).contains("Your data is deleted"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(
        fixtures::assert_account_erased(app.env.db(), 1).await,
        balance
    );
    assert_eq!(
        app.env
            .replicate
            .calls_to(
                "POST",
                &format!("/trainings/{}/cancel", account.training_id)
            )
            .len(),
        1
    );
    assert_eq!(app.env.replicate.calls_to("DELETE", "/files/").len(), 3);
    assert_eq!(app.env.replicate.calls_to("DELETE", "/models/").len(), 1);

    // A confirm pressed twice (or delivered again) erases nothing more.
    app.send(&updates::callback(5, &ann, &buttons[0].1)).await;
    assert_eq!(app.env.replicate.calls_to("DELETE", "/").len(), 4);

    // Later the person uses the bot afresh: /start registers their names again.
    app.send(&updates::text(6, &ann, "/start")).await;
    let user = app.user(1).await.unwrap();
    assert_eq!(user.first_name, "Ann");
    assert_eq!(user.tokens_left, balance);
    app.send(&updates::text(7, &ann, "/models")).await;
    assert!(!app.last_text(1).contains("Me —"), "{}", app.last_text(1));
}

#[tokio::test]
async fn a_generation_without_replicate_configured_keeps_the_choice_open_and_charges_nothing() {
    let app = App::spawn_with_var("REPLICATE_API_TOKEN", None).await;
    let ann = TgUser::new(1, "Ann");
    let (_, model) = fixtures::user_with_ready_model(app.env.db(), 1, 100).await;
    app.press(1, &ann, &format!("g:{}", model.id)).await;
    app.press(2, &ann, "p:0").await;
    app.press(3, &ann, "n:1").await;
    assert!(
        app.last_text(1).contains("Try again later"),
        "{:?}",
        app.texts(1)
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 100);
    assert!(app.env.replicate.predictions().is_empty());

    // The choice is still open: once Replicate is back, the same button works.
    let mut env = app.env;
    env.set("REPLICATE_API_TOKEN", Some("r8_test_token"));
    let app = App::with_env(env);
    app.press(4, &ann, "n:1").await;
    assert_eq!(app.env.replicate.predictions().len(), 1);
    assert_eq!(app.user(1).await.unwrap().tokens_left, 95);
}

#[tokio::test]
async fn photos_sent_outside_training_get_one_answer_per_album() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    let told = |app: &App| {
        app.texts(1)
            .iter()
            .filter(|t| t.contains("/train"))
            .filter(|t| t.contains("start with"))
            .count()
    };

    // An album's photos arrive as separate updates, here concurrently on different instances.
    let album: Vec<_> = (0..4)
        .map(|i| updates::photo(10 + i, &ann, &format!("a{i}"), Some("album-1")))
        .collect();
    futures::future::join_all(album.iter().map(|u| app.send(u))).await;
    assert_eq!(told(&app), 1, "{:?}", app.texts(1));

    // Its redelivery says nothing more; a lone photo and another album are answered once each.
    app.send(&album[0]).await;
    app.send(&updates::photo(20, &ann, "b", None)).await;
    app.send(&updates::photo(21, &ann, "c0", Some("album-2")))
        .await;
    app.send(&updates::photo(22, &ann, "c1", Some("album-2")))
        .await;
    assert_eq!(told(&app), 3, "{:?}", app.texts(1));
}

#[tokio::test]
async fn a_deleted_status_message_does_not_lose_the_photo_a_new_one_takes_its_place() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 500).await;
    app.send(&updates::text(1, &ann, "/train")).await;
    app.says(2, &ann, "My face").await;
    app.send(&updates::photo(3, &ann, "p0", None)).await;

    // The person deleted the status message: Telegram cannot edit it any more.
    app.env.telegram.clear();
    app.env.telegram.fail_next(
        "editMessageText",
        400,
        "Bad Request: message to edit not found",
        None,
    );
    app.send(&updates::photo(4, &ann, "p1", None)).await;
    let model = &models::list_for_user(&**app.env.db().conn().await.unwrap(), 1, Page::first(5))
        .await
        .unwrap()[0];
    assert_eq!(model.photo_count, 2, "the photo is kept");
    assert_eq!(
        app.env.telegram.calls_of("sendMessage").len(),
        1,
        "a new status message"
    );
    assert!(
        app.last_text(1).contains("<b>2</b>"),
        "{}",
        app.last_text(1)
    );

    // The next photo edits the new message.
    app.env.telegram.clear();
    app.send(&updates::photo(5, &ann, "p2", None)).await;
    assert!(app.env.telegram.calls_of("sendMessage").is_empty());
    assert_eq!(app.env.telegram.calls_of("editMessageText").len(), 1);
    assert!(
        app.last_text(1).contains("<b>3</b>"),
        "{}",
        app.last_text(1)
    );
}

#[tokio::test]
async fn a_payment_that_cannot_be_recorded_is_told_to_the_admins_with_its_charge_id() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(1, "Ann")).await;
    // A failure that every retry would meet again (here a constraint no row can pass).
    let conn = app.env.db().conn().await.unwrap();
    conn.batch_execute("ALTER TABLE payments ADD CONSTRAINT injected CHECK (false) NOT VALID")
        .await
        .unwrap();
    drop(conn);
    app.env.telegram.clear();

    let paid = updates::successful_payment(2, &ann, "XTR", 150, "pack:small:100:150", "charge-x");
    app.send(&paid).await;
    app.send(&paid).await; // Telegram's redelivery tells nobody twice.

    assert_eq!(
        app.user(1).await.unwrap().tokens_left,
        0,
        "nothing credited"
    );
    let told = app.texts(ADMIN_ID);
    let about: Vec<_> = told.iter().filter(|t| t.contains("charge-x")).collect();
    assert_eq!(about.len(), 1, "{told:?}");
    assert!(about[0].contains("150"), "{}", about[0]);
}

#[tokio::test]
async fn a_draft_left_behind_is_offered_by_train_to_go_on_with_or_drop() {
    let app = App::spawn().await;
    let ann = TgUser::new(1, "Ann");
    fixtures::user(app.env.db(), 1, 150).await;
    send_a_draft(&app, &ann, "Beach me", 3).await;
    app.send(&updates::text(20, &ann, "/cancel")).await;
    let draft = app.newest_model(1).await;

    // /train again: the draft is offered, not forgotten.
    app.send(&updates::text(21, &ann, "/train")).await;
    assert!(
        app.last_text(1).contains("Beach me"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(
        last_buttons(&app, 1),
        vec![
            (
                "▶️ Go on with «Beach me»".to_owned(),
                format!("dr:{}:1", draft.id)
            ),
            (
                "🆕 Start a new model".to_owned(),
                format!("dr:{}:0", draft.id)
            ),
        ]
    );
    // Going on: photos count on from three.
    app.press(22, &ann, &format!("dr:{}:1", draft.id)).await;
    assert!(
        app.last_text(1).contains("<b>3</b>"),
        "{}",
        app.last_text(1)
    );
    app.send(&updates::photo(23, &ann, "p3", None)).await;
    assert_eq!(app.newest_model(1).await.id, draft.id);
    assert_eq!(app.newest_model(1).await.photo_count, 4);

    // Dropping it: the draft is gone and a new model is named.
    app.send(&updates::text(24, &ann, "/train")).await;
    app.press(25, &ann, &format!("dr:{}:0", draft.id)).await;
    assert!(
        app.last_text(1).contains("What should we call"),
        "{}",
        app.last_text(1)
    );
    let conn = app.env.db().conn().await.unwrap();
    assert!(shared::repo::models::get(&**conn, draft.id)
        .await
        .unwrap()
        .is_none());
    // Someone else's draft cannot be dropped by a forged button.
    let bob = TgUser::new(2, "Bob");
    fixtures::user(app.env.db(), 2, 0).await;
    let bobs = fixtures::draft_model(app.env.db(), 2, 2).await;
    app.press(26, &ann, &format!("dr:{}:0", bobs.id)).await;
    assert!(shared::repo::models::get(&**conn, bobs.id)
        .await
        .unwrap()
        .is_some());
    let _ = bob;
}

#[tokio::test]
async fn a_generation_whose_start_is_unknown_is_paid_once_and_shown_as_creating() {
    let app = App::spawn().await;
    let ann = ann_asked_for_me_on_a_beach(&app).await;
    // Replicate takes the prediction and answers 500, and looking for it fails too.
    app.env.replicate.accept_then_fail_next("/predictions", 500);
    app.env
        .replicate
        .fail_next("/predictions", 500, "Replicate is down");
    app.press(3, &ann, "n:2").await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 90, "paid");
    assert!(
        app.last_text(1).contains("Creating 2") || app.last_text(1).contains("Создаю 2"),
        "shown as on its way: {:?}",
        app.texts(1)
    );
    // The same choice pressed again pays nothing more.
    app.press(4, &ann, "n:2").await;
    assert!(
        app.last_text(1).contains("out of date"),
        "{}",
        app.last_text(1)
    );
    assert_eq!(app.user(1).await.unwrap().tokens_left, 90);
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 1);
}

#[tokio::test]
async fn a_press_handled_too_late_to_answer_is_still_carried_out() {
    let app = App::spawn().await;
    let ann = ann_asked_for_me_on_a_beach(&app).await;
    // Redelivered after a failure, or queued while we were down: Telegram no longer takes the answer.
    app.env.telegram.fail_next(
        "answerCallbackQuery",
        400,
        "Bad Request: query is too old and response timeout expired or query id is invalid",
        None,
    );
    app.press(3, &ann, "n:2").await;
    assert_eq!(app.user(1).await.unwrap().tokens_left, 90, "paid");
    assert_eq!(app.env.replicate.calls_to("POST", "/predictions").len(), 1);
}
