//! What a person and an admin see of the bot's language, its Mini App and the admins' menus and
//! chart: updates in, Bot API calls out.

use serde_json::json;
use shared::notify::Lang;
use testkit::fixtures;
use testkit::updates::{self, TgUser};
use testkit::{TestEnv, ADMIN_ID};

use crate::app::{last_buttons, App};

fn reply_keyboard(call: &testkit::SentCall) -> Vec<String> {
    call.body["reply_markup"]["keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The URL of the first `web_app` button of a message's inline keyboard.
fn web_app_url(call: &testkit::SentCall) -> Option<String> {
    call.body["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .find_map(|b| b["web_app"]["url"].as_str().map(str::to_owned))
}

fn last_to(app: &App, chat: i64) -> testkit::SentCall {
    app.env.telegram.sent_to(chat).pop().expect("a message")
}

fn scoped_to(call: &testkit::SentCall, chat: i64) -> bool {
    call.body["scope"] == json!({"type": "chat", "chat_id": chat})
}

fn command_names(call: &testkit::SentCall) -> Vec<String> {
    call.body["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["command"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn language_switches_through_buttons_and_is_remembered() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(6101, "Ann")).await; // Telegram's language: English

    app.send(&updates::text(2, &ann, "/language")).await;
    let buttons = last_buttons(&app, ann.id);
    assert_eq!(
        buttons,
        vec![
            ("🇷🇺 Русский".to_owned(), "lang:ru".to_owned()),
            ("🇬🇧 English".to_owned(), "lang:en".to_owned())
        ]
    );
    app.press(3, &ann, "lang:ru").await;
    let answer = last_to(&app, ann.id);
    assert!(answer.text().contains("по-русски"), "{}", answer.text());
    assert!(
        reply_keyboard(&answer).contains(&"💰 Баланс".to_owned()),
        "the main menu follows: {:?}",
        reply_keyboard(&answer)
    );
    assert_eq!(
        app.user(ann.id).await.unwrap().language.as_deref(),
        Some("ru")
    );
    // The chat's own command menu is Russian now.
    let menu = app.env.telegram.last_call("setMyCommands");
    assert!(scoped_to(&menu, ann.id), "{}", menu.body);
    assert!(menu.body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["command"] == "language" && c["description"] == "Язык / Language"));

    // Telegram still says English; the choice stands, and the menu's Russian button works.
    let balance = app.says(4, &ann, "💰 Баланс").await;
    assert!(balance.contains("Баланс"), "{balance}");
    assert!(app
        .says(5, &ann, "/help")
        .await
        .contains("/language — язык бота"));

    // Back to English by the same buttons.
    app.press(6, &ann, "lang:en").await;
    assert!(app.last_text(ann.id).contains("I speak English"));
    assert!(app.says(7, &ann, "/balance").await.contains("Balance"));
    // A language we do not speak is an outdated button, and changes nothing.
    app.press(8, &ann, "lang:de").await;
    assert_eq!(
        app.user(ann.id).await.unwrap().language.as_deref(),
        Some("en")
    );
}

#[tokio::test]
async fn another_telegram_language_gets_english_unless_they_choose() {
    let app = App::spawn().await;
    let mut hans = TgUser::new(6201, "Hans");
    hans.language_code = Some("de".into());
    app.started(1, hans.clone()).await;
    assert!(app.says(2, &hans, "/balance").await.contains("Balance"));
    let ivan = app.started(3, TgUser::new(6202, "Иван").russian()).await;
    assert!(app.says(4, &ivan, "/balance").await.contains("Баланс"));
    app.press(5, &hans, "lang:ru").await;
    assert!(app.says(6, &hans, "/balance").await.contains("Баланс"));
}

#[tokio::test]
async fn russian_counts_take_their_plural_forms() {
    let app = App::spawn().await;
    let ivan = TgUser::new(6301, "Иван").russian();
    app.started(1, ivan.clone()).await;
    for (update, (tokens, said)) in (2..).zip([
        (1, "<b>1</b> токен\n"),
        (2, "<b>2</b> токена\n"),
        (5, "<b>5</b> токенов\n"),
        (11, "<b>11</b> токенов\n"),
        (21, "<b>21</b> токен\n"),
        (22, "<b>22</b> токена\n"),
    ]) {
        fixtures::set_tokens_left(app.env.db(), ivan.id, tokens as i64).await;
        let balance = app.says(update, &ivan, "/balance").await;
        assert!(balance.contains(said), "{tokens}: {balance}");
    }
    // English has its own two forms.
    let ann = app.started(20, TgUser::new(6302, "Ann")).await;
    fixtures::set_tokens_left(app.env.db(), ann.id, 1).await;
    assert!(app
        .says(21, &ann, "/balance")
        .await
        .contains("<b>1</b> token\n"));
}

#[tokio::test]
async fn prompt_presets_are_offered_in_the_person_s_language() {
    let app = App::spawn().await;
    for (i, (user, first)) in [
        (TgUser::new(6401, "Ann"), "💼 Business portrait in a studio"),
        (
            TgUser::new(6402, "Иван").russian(),
            "💼 Деловой портрет в студии",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let step = 10 * i as i64;
        app.started(step + 1, user.clone()).await;
        let model = fixtures::ready_model(app.env.db(), user.id).await;
        app.press(step + 2, &user, &format!("g:{}", model.id)).await;
        app.press(step + 3, &user, "s:0").await;
        let presets = last_buttons(&app, user.id);
        assert_eq!(presets.len(), 4, "{presets:?}");
        assert_eq!(presets[0], (first.to_owned(), "p:0".to_owned()));
        // A preset is a prompt like a typed one: next, how many photos.
        app.press(step + 4, &user, "p:0").await;
        let next = app.last_text(user.id);
        assert!(
            next.contains("How many photos") || next.contains("Сколько фото"),
            "{next}"
        );
    }
}

async fn app_with_mini_app(url: Option<&str>) -> App {
    App::spawn_with_var("MINI_APP_URL", url).await
}

#[tokio::test]
async fn with_a_mini_app_start_and_my_models_offer_it() {
    let app = app_with_mini_app(Some("https://app.example.com/dream")).await;
    let ann = app.started(1, TgUser::new(6501, "Ann")).await;
    let sent = app.env.telegram.sent_to(ann.id);
    let (welcome, offer) = (&sent[sent.len() - 2], &sent[sent.len() - 1]);
    assert!(welcome.text().contains("Dream Photo"), "{}", welcome.text());
    assert!(
        !reply_keyboard(welcome).is_empty(),
        "the welcome brings the menu"
    );
    assert_eq!(
        web_app_url(offer).as_deref(),
        Some("https://app.example.com/dream")
    );

    // No models yet: the app is offered with the hint to train.
    app.send(&updates::text(2, &ann, "/models")).await;
    assert_eq!(
        web_app_url(&last_to(&app, ann.id)).as_deref(),
        Some("https://app.example.com/dream")
    );
    // With a ready model: under its buttons.
    fixtures::ready_model(app.env.db(), ann.id).await;
    app.send(&updates::text(3, &ann, "/models")).await;
    let models = last_to(&app, ann.id);
    assert!(models.text().contains("Your models"), "{}", models.text());
    assert!(!last_buttons(&app, ann.id).is_empty());
    assert!(web_app_url(&models).is_some());
}

#[tokio::test]
async fn without_a_mini_app_nothing_offers_it() {
    let app = app_with_mini_app(None).await;
    let ann = app.started(1, TgUser::new(6601, "Ann")).await;
    fixtures::ready_model(app.env.db(), ann.id).await;
    app.send(&updates::text(2, &ann, "/models")).await;
    assert!(app
        .env
        .telegram
        .sent_to(ann.id)
        .iter()
        .all(|call| web_app_url(call).is_none()));
    assert_eq!(
        app.env.telegram.sent_to(ann.id).len(),
        2,
        "the welcome alone, then the models"
    );
}

#[tokio::test]
async fn admins_get_their_own_menu_when_added_and_lose_it_when_removed() {
    let app = App::spawn().await;
    let owner = TgUser::new(ADMIN_ID, "Boss");
    let mo = app.started(1, TgUser::new(6701, "Mo")).await;
    app.started(2, owner.clone()).await;

    app.send(&updates::text(3, &owner, "/admin_add 6701")).await;
    let menu = app.env.telegram.last_call("setMyCommands");
    assert!(scoped_to(&menu, mo.id), "{}", menu.body);
    let names = command_names(&menu);
    assert!(names.contains(&"train".to_owned()) && names.contains(&"admin_stats".to_owned()));
    assert!(
        !names.contains(&"admin_add".to_owned()),
        "owners' commands are the owners'"
    );

    // Telegram fails now (the inline tries too): the change is not lost, the sweep makes it.
    app.env.telegram.fail_next(
        "deleteMyCommands",
        429,
        "Too Many Requests: retry after 30",
        Some(30),
    );
    app.send(&updates::text(4, &owner, "/admin_remove 6701"))
        .await;
    assert!(!app.env.telegram.calls_of("deleteMyCommands")[0].answered_ok());
    fixtures::make_effects_due(app.env.db()).await;
    let (services, _jobs) = app.env.services();
    shared::dispatch::drain(&services, 10).await.unwrap();
    let removed = app.env.telegram.last_call("deleteMyCommands");
    assert!(
        removed.answered_ok() && scoped_to(&removed, mo.id),
        "{}",
        removed.body
    );
    assert!(fixtures::unsettled_effects(app.env.db()).await.is_empty());

    // An admin who chooses Russian gets the admins' menu in Russian.
    app.send(&updates::text(5, &owner, "/admin_add 6701")).await;
    app.press(6, &mo, "lang:ru").await;
    let menu = app.env.telegram.last_call("setMyCommands");
    assert!(scoped_to(&menu, mo.id));
    assert!(menu.body["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["command"] == "admin_stats"
            && c["description"] == "Статистика и график за 30 дней"));
}

/// The PNG's size, and that it decodes.
fn decoded(png_bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).expect("PNG image data");
    // Not a blank picture: the lines and labels are there.
    let distinct: std::collections::HashSet<&[u8]> =
        pixels[..frame.buffer_size()].chunks(3).collect();
    assert!(distinct.len() > 20, "{} colours", distinct.len());
    (frame.width, frame.height)
}

#[tokio::test]
async fn admin_stats_sends_a_chart_of_the_last_30_days() {
    let app = App::spawn().await;
    let owner = TgUser::new(ADMIN_ID, "Boss");
    app.started(1, owner.clone()).await;
    let ann = app.started(2, TgUser::new(6801, "Ann")).await;
    let old = app.started(3, TgUser::new(6802, "Old")).await;
    fixtures::joined_days_ago(app.env.db(), old.id, 40).await;
    fixtures::small_pack_paid(app.env.db(), ann.id, "charge-chart-1").await;

    app.send(&updates::text(4, &owner, "/admin_stats")).await;
    let photo = app.env.telegram.last_call("sendPhoto");
    assert_eq!(photo.chat_id(), Some(ADMIN_ID));
    let png_bytes = photo.file("photo").expect("the chart is uploaded");
    assert_eq!(decoded(&png_bytes), (1000, 900));
    // The caption: the 30 days' totals (the old user is outside them).
    assert_eq!(
        photo.text(),
        "📈 In 30 days: 2 new users, 0 generations, revenue 150 ⭐."
    );
    // The figures follow, as the last message.
    assert!(app.last_text(ADMIN_ID).contains("Statistics"));
    std::fs::write(
        format!("{}/admin-stats-chart.png", env!("CARGO_TARGET_TMPDIR")),
        &png_bytes,
    )
    .unwrap();
}

/// The chart's data: one query over the 30 days, every day there, zeros where nothing happened.
#[tokio::test]
async fn the_chart_s_series_are_the_days_with_zeros_filled() {
    let env = TestEnv::start().await;
    let db = env.db();
    for (id, days_ago) in [(1i64, 0i32), (2, 0), (3, 3), (4, 29), (5, 30)] {
        fixtures::user(db, id, 10).await;
        fixtures::joined_days_ago(db, id, days_ago).await;
    }
    fixtures::small_pack_paid(db, 1, "charge-a").await; // 150 XTR today
    fixtures::small_pack_paid(db, 2, "charge-b").await;
    fixtures::rewrite_rows(
        db,
        "UPDATE payments SET created_at = now() - interval '3 days' WHERE telegram_charge_id = 'charge-b'",
        &[],
    )
    .await;
    fixtures::small_pack_paid(db, 3, "charge-refunded").await;
    fixtures::rewrite_rows(
        db,
        "UPDATE payments SET status = 'refunded' WHERE telegram_charge_id = 'charge-refunded'",
        &[],
    )
    .await;
    let model = fixtures::ready_model(db, 1).await;
    fixtures::generation_in_flight(db, 1, model.id, "pred-chart", 1, 5).await;

    let days = shared::repo::stats::daily(&**db.conn().await.unwrap(), 30, "XTR")
        .await
        .unwrap();
    let series = telegram_webhook::bot::chart::Series::of(&days, "XTR");
    assert_eq!(series.days.len(), 30);
    assert_eq!(series.days[29], chrono::Utc::now().date_naive());
    assert_eq!(series.days[0], series.days[29] - chrono::Days::new(29));
    let mut users = vec![0; 30];
    users[29] = 2;
    users[26] = 1;
    users[0] = 1;
    assert_eq!(series.new_users, users);
    let mut generations = vec![0; 30];
    generations[29] = 1;
    assert_eq!(series.generations, generations);
    let mut revenue = vec![0.0; 30];
    revenue[29] = 150.0;
    revenue[26] = 150.0;
    assert_eq!(series.revenue, revenue);
    // Another currency's payments are not added to Stars.
    let rub = shared::repo::stats::daily(&**db.conn().await.unwrap(), 30, "RUB")
        .await
        .unwrap();
    assert!(rub.iter().all(|d| d.revenue == 0));
}

#[test]
fn a_chart_renders_the_same_words_in_both_languages() {
    // Cyrillic and Latin labels both come from the embedded font (no system font here or on Lambda).
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
    let days: Vec<shared::repo::stats::Day> = (0..30)
        .map(|i| shared::repo::stats::Day {
            day: day + chrono::Days::new(i),
            // A growing month with weekends and the odd quiet day, like the one in docs/.
            new_users: 3 + i as i64 / 2 + (i as i64 * 7 % 5),
            generations: 6 + i as i64 + (i as i64 * 13 % 9) * 2,
            revenue: ((i as i64 * 5) % 4 + i as i64 / 8) * 150,
        })
        .collect();
    let series = telegram_webhook::bot::chart::Series::of(&days, "XTR");
    for lang in Lang::ALL {
        let t = telegram_webhook::bot::texts(lang);
        let (title, [a, b, c]) = t.chart_labels("XTR");
        let labels = telegram_webhook::bot::chart::Labels {
            title: &title,
            new_users: &a,
            generations: &b,
            revenue: &c,
        };
        let png_bytes = telegram_webhook::bot::chart::render(&series, &labels).unwrap();
        assert_eq!(decoded(&png_bytes), (1000, 900));
        std::fs::write(
            format!(
                "{}/admin-stats-chart-{}.png",
                env!("CARGO_TARGET_TMPDIR"),
                lang.code()
            ),
            &png_bytes,
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_refused_checkout_is_explained_in_the_chosen_language() {
    let app = App::spawn().await;
    let ann = app.started(1, TgUser::new(6901, "Ann")).await; // Telegram's language: English
    app.press(2, &ann, "lang:ru").await;
    fixtures::block_user(app.env.db(), ann.id).await;
    app.send(&updates::pre_checkout(3, &ann, "XTR", 150, "pack:small"))
        .await;
    let answer = app.pre_checkout_answer();
    assert!(!answer.ok);
    let reason = answer.error_message.unwrap();
    assert!(reason.contains("заблокирован"), "{reason}");
}

#[tokio::test]
async fn a_first_start_that_failed_after_registering_still_tells_the_admins_once() {
    let app = app_with_mini_app(Some("https://app.example.com/dream")).await;
    let ann = TgUser::new(6701, "Ann");
    // The welcome goes through the Bot API (the Mini App's offer rides in the response): it fails,
    // after Ann is registered, and Telegram delivers the /start again.
    app.env.telegram.outage_next("sendMessage");
    let start = updates::text(1, &ann, "/start");
    let (status, _) = app.post(&start, Some(testkit::WEBHOOK_SECRET)).await;
    assert!(!status.is_success(), "{status}");
    app.send(&start).await;
    app.send(&updates::text(2, &ann, "/start")).await;
    let told = app
        .env
        .telegram
        .sent_to(testkit::ADMIN_ID)
        .into_iter()
        .filter(|c| c.text().contains("(id 6701)"))
        .count();
    assert_eq!(told, 1, "the admins hear of Ann once");
}
